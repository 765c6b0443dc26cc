using System.Buffers;
using System.Text;
using System.Text.Json;
using Granary.Engine;
using Granary.Serving.Api;
using Microsoft.AspNetCore.Http;

namespace Granary.Serving;

/// <summary>Shapes engine events into OpenAI's responses and stream chunks.</summary>
public sealed partial class OpenAiServer
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static Usage UsageOf(PreparedRequest request, int completionTokens, int cachedTokens) => new()
    {
        PromptTokens = request.PromptTokens,
        CompletionTokens = completionTokens,
        TotalTokens = request.PromptTokens + completionTokens,
        PromptTokensDetails = new PromptTokensDetails { CachedTokens = cachedTokens },
    };

    private async Task<ChatCompletionResponse> ChatAsync(GenerationHandle handle, PreparedRequest request, string id, CancellationToken cancellationToken)
    {
        var response = new ChatCompletionResponse { Id = id, Model = request.Model, Created = Now };
        int completion = 0, cached = 0;
        await foreach (var e in handle.Events.ReadAllAsync(cancellationToken))
        {
            if (e.Error is not null) throw Failure(e);
            completion += e.CompletionTokens;
            if (e.Index % request.Generation.N == 0) cached += e.CachedTokens;
            response.Choices.Add(new ChatChoice
            {
                Index = e.Index,
                Message = new ChatResponseMessage { Content = e.Text },
                Logprobs = request.Logprobs ? ChatLogprobsOf(e) : null,
                FinishReason = FinishReason(e.FinishReason),
            });
        }
        cancellationToken.ThrowIfCancellationRequested();
        response.Choices.Sort((a, b) => a.Index.CompareTo(b.Index));
        response.Usage = UsageOf(request, completion, cached);
        return response;
    }

    private async Task<CompletionResponse> CompletionAsync(GenerationHandle handle, PreparedRequest request, string id, CancellationToken cancellationToken)
    {
        var response = new CompletionResponse { Id = id, Model = request.Model, Created = Now };
        int completion = 0, cached = 0;
        await foreach (var e in handle.Events.ReadAllAsync(cancellationToken))
        {
            if (e.Error is not null) throw Failure(e);
            completion += e.CompletionTokens;
            if (e.Index % request.Generation.N == 0) cached += e.CachedTokens;
            response.Choices.Add(new CompletionChoice
            {
                Index = e.Index,
                Text = e.Text,
                Logprobs = request.Logprobs ? CompletionLogprobsOf(e, 0) : null,
                FinishReason = FinishReason(e.FinishReason),
            });
        }
        cancellationToken.ThrowIfCancellationRequested();
        response.Choices.Sort((a, b) => a.Index.CompareTo(b.Index));
        response.Usage = UsageOf(request, completion, cached);
        return response;
    }

    private async Task StreamAsync(HttpContext ctx, GenerationHandle handle, PreparedRequest request, string id, bool chat)
    {
        var cancellationToken = ctx.RequestAborted;
        // A request refused before its first token (a cluster with no room, a prompt the engine rejects) gets its
        // status and a JSON error, as when it is refused at once, rather than a stream that opens with the error.
        if (await handle.Events.WaitToReadAsync(cancellationToken) && handle.Events.TryPeek(out var opening) && opening.Error is not null) throw Failure(opening);
        var response = ctx.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var pipe = response.BodyWriter;
        using var json = new Utf8JsonWriter(pipe, ResponseJson.WriterOptions);
        long created = Now;
        int choices = request.Generation.Sequences;
        var completionTokens = new int[choices];
        var cachedTokens = new int[choices];
        var textOffsets = new int[choices];

        void Write<T>(T chunk, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        {
            pipe.Write(DataPrefix);
            json.Reset(pipe);
            JsonSerializer.Serialize(json, chunk, type);
            json.Flush();
            pipe.Write(EventEnd);
        }

        // Writes one event as a chunk; false after writing the error of a failed request.
        bool WriteEvent(GenerationEvent e)
        {
            if (e.Error is not null)
            {
                var failure = Failure(e);
                Write(new ErrorResponse { Error = new ErrorBody { Message = failure.Message, Type = failure.Type, Code = failure.Code } }, ResponseJson.ErrorResponse);
                return false;
            }
            completionTokens[e.Index] = e.CompletionTokens;
            if (e.Index % request.Generation.N == 0) cachedTokens[e.Index] = e.CachedTokens;
            if (chat)
            {
                var chunk = new ChatCompletionChunk { Id = id, Model = request.Model, Created = created };
                chunk.Choices.Add(new ChatChunkChoice
                {
                    Index = e.Index,
                    Delta = new ChatDelta { Content = e.Text },
                    Logprobs = request.Logprobs ? ChatLogprobsOf(e) : null,
                    FinishReason = FinishReason(e.FinishReason),
                });
                Write(chunk, ResponseJson.ChatCompletionChunk);
            }
            else
            {
                var chunk = new CompletionResponse { Id = id, Model = request.Model, Created = created };
                chunk.Choices.Add(new CompletionChoice
                {
                    Index = e.Index,
                    Text = e.Text,
                    Logprobs = request.Logprobs ? CompletionLogprobsOf(e, textOffsets[e.Index]) : null,
                    FinishReason = FinishReason(e.FinishReason),
                });
                textOffsets[e.Index] += e.Text.Length;
                Write(chunk, ResponseJson.CompletionResponse);
            }
            return true;
        }

        if (chat)
        {
            // OpenAI opens each choice with the assistant role and empty content.
            var first = new ChatCompletionChunk { Id = id, Model = request.Model, Created = created };
            for (int i = 0; i < choices; i++) first.Choices.Add(new ChatChunkChoice { Index = i, Delta = new ChatDelta { Role = "assistant", Content = "" } });
            Write(first, ResponseJson.ChatCompletionChunk);
        }
        await pipe.FlushAsync(cancellationToken);

        var events = handle.Events;
        bool failed = false;
        // Everything already queued goes out in one flush: a client that fell behind catches up in one write.
        while (!failed && await events.WaitToReadAsync(cancellationToken))
        {
            while (!failed && events.TryRead(out var e)) failed = !WriteEvent(e);
            await pipe.FlushAsync(cancellationToken);
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (request.IncludeUsage)
        {
            var usage = UsageOf(request, completionTokens.Sum(), cachedTokens.Sum());
            if (chat) Write(new ChatCompletionChunk { Id = id, Model = request.Model, Created = created, Usage = usage }, ResponseJson.ChatCompletionChunk);
            else Write(new CompletionResponse { Id = id, Model = request.Model, Created = created, Usage = usage }, ResponseJson.CompletionResponse);
        }
        pipe.Write(Done);
        await pipe.FlushAsync(cancellationToken);
    }

    /// <summary>The text a token contributes, as the API shows it (UTF-8 of its bytes; the piece for special tokens).</summary>
    private (string Text, int[] Bytes) TokenText(int id)
    {
        var bytes = _service.Tokenizer.GetTokenBytes(id);
        if (bytes.IsEmpty) return (_service.Tokenizer.IdToToken(id) ?? "", []);
        var ints = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ints[i] = bytes[i];
        return (Encoding.UTF8.GetString(bytes), ints);
    }

    private ChatLogprobs ChatLogprobsOf(GenerationEvent e)
    {
        var result = new ChatLogprobs();
        foreach (var lp in e.Logprobs ?? [])
        {
            var (text, bytes) = TokenText(lp.TokenId);
            var entry = new ChatTokenLogprob { Token = text, Logprob = lp.Logprob, Bytes = bytes };
            foreach (var alt in lp.Top)
            {
                var (altText, altBytes) = TokenText(alt.TokenId);
                entry.TopLogprobs.Add(new ChatTopLogprob { Token = altText, Logprob = alt.Logprob, Bytes = altBytes });
            }
            result.Content.Add(entry);
        }
        return result;
    }

    private CompletionLogprobs CompletionLogprobsOf(GenerationEvent e, int offset)
    {
        var result = new CompletionLogprobs();
        foreach (var lp in e.Logprobs ?? [])
        {
            string text = TokenText(lp.TokenId).Text;
            result.Tokens.Add(text);
            result.TokenLogprobs.Add(lp.Logprob);
            result.TextOffset.Add(offset);
            offset += text.Length;
            var top = new Dictionary<string, float>();
            foreach (var alt in lp.Top) top.TryAdd(TokenText(alt.TokenId).Text, alt.Logprob);
            result.TopLogprobs.Add(top);
        }
        return result;
    }
}
