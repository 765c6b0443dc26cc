namespace Granary.Engine;

/// <summary>
/// Continuous batching: every step, running sequences go first (one decode token each, or the next chunk
/// of a long prompt), then waiting ones join while the token budget, the sequence limit and the KV
/// blocks allow. When blocks run out, the most recently admitted sequence is preempted: its blocks are
/// freed and it waits to be recomputed. A sequence admitted from the waiting queue first takes the
/// blocks of its longest cached prefix (<see cref="BlockManager.MatchPrefix"/>) and computes only the rest.
/// </summary>
public sealed class Scheduler(SchedulerOptions options, BlockManager blocks)
{
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];
    private readonly List<ScheduledSequence> _step = [];

    public int Waiting => _waiting.Count;
    public int Running => _running.Count;
    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    /// <summary>Sequences preempted since the scheduler started.</summary>
    public long Preemptions { get; private set; }

    public void Add(Sequence sequence) => _waiting.AddLast(sequence);

    /// <summary>Chooses this step's sequences and token counts, growing their block tables to fit.</summary>
    public IReadOnlyList<ScheduledSequence> Schedule()
    {
        _step.Clear();
        int budget = options.MaxBatchedTokens;
        bool preempted = false;
        // Blocks filled by the last step join the prefix cache before anyone is admitted.
        foreach (var running in _running) blocks.CommitFullBlocks(running);
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var sequence = _running[i];
            int tokens = Math.Min(sequence.PendingLength, budget);
            while (!blocks.CanGrow(sequence, sequence.ComputedLength + tokens))
            {
                var victim = _running[^1];
                Preempt(victim);
                preempted = true;
                if (victim == sequence) break;
            }
            if (sequence.Status != SequenceStatus.Running) break;
            blocks.Grow(sequence, sequence.ComputedLength + tokens);
            _step.Add(new ScheduledSequence(sequence, tokens));
            budget -= tokens;
        }
        while ((!preempted || _running.Count == 0) && budget > 0 && _waiting.First is { } node && _running.Count < options.MaxSequences)
        {
            var sequence = node.Value;
            blocks.MatchPrefix(sequence);
            int tokens = Math.Min(sequence.PendingLength, budget);
            if (!blocks.CanGrow(sequence, sequence.ComputedLength + tokens))
            {
                // Not admitted: give the shared prefix back, so it is matched afresh next time.
                blocks.Release(sequence);
                sequence.ComputedLength = 0;
                break;
            }
            _waiting.RemoveFirst();
            blocks.CountHit(sequence);
            blocks.Grow(sequence, sequence.ComputedLength + tokens);
            sequence.Status = SequenceStatus.Running;
            _running.Add(sequence);
            _step.Add(new ScheduledSequence(sequence, tokens));
            budget -= tokens;
        }
        return _step;
    }

    /// <summary>
    /// Async scheduling: chooses the step after <paramref name="running"/> (launched, its tokens not sampled yet) as
    /// <see cref="Schedule"/> would once they are, assuming every sequence it samples goes on: each with one token,
    /// the one <paramref name="running"/> samples for it, in <paramref name="next"/> (its blocks grown to hold it).
    /// A sequence whose token from <paramref name="running"/> will be its last by length (max_tokens, the context) is
    /// left out; one that stops on that token (a stop token or string) cannot be known yet: its row in the next step is
    /// computed and its token dropped. Returns false, changing nothing, when the next step may be another: a prompt
    /// still to prefill, a waiting sequence that could join (room in the batch and a free block), a running sequence left out, or blocks too
    /// few (a preemption).
    /// </summary>
    internal bool Continue(LaunchedStep running, LaunchedStep next, int maxModelLength)
    {
        int stillRunning = 0, continuing = 0, blocksNeeded = 0;
        for (int s = 0; s < running.Count; s++)
        {
            var sequence = running.Sequences[s];
            if (sequence.Status != SequenceStatus.Running) continue; // aborted since it was laid out
            if (!running.Samples[s]) return false; // a prompt chunk: its next chunk is the scheduler's to choose
            stillRunning++;
            if (EndsAfterOneMore(sequence, maxModelLength)) continue;
            continuing++;
            blocksNeeded += Math.Max(0, blocks.BlocksFor(sequence.Length + 1) - sequence.Blocks.Count);
        }
        if (stillRunning != _running.Count || continuing == 0 || continuing > options.MaxBatchedTokens || blocksNeeded > blocks.FreeBlocks) return false;
        // A waiting sequence could join (Schedule admits one only into a free block: at least its last token needs one).
        if (_waiting.Count > 0 && continuing < options.MaxSequences && continuing < options.MaxBatchedTokens && blocks.FreeBlocks > blocksNeeded) return false;

        next.Clear(continuation: true);
        for (int s = 0; s < running.Count; s++)
        {
            var sequence = running.Sequences[s];
            if (sequence.Status != SequenceStatus.Running || EndsAfterOneMore(sequence, maxModelLength)) continue;
            blocks.Grow(sequence, sequence.Length + 1);
            next.Add(sequence, tokens: 1, samples: true, source: s);
        }
        return true;
    }

    /// <summary>Whether one more token ends the sequence by length (as <see cref="LlmEngine"/> finishes it).</summary>
    private static bool EndsAfterOneMore(Sequence sequence, int maxModelLength) =>
        sequence.OutputLength + 1 >= sequence.Sampling.MaxTokens || sequence.Length + 1 >= maxModelLength;

    /// <summary>Removes a finished or aborted sequence and frees its blocks.</summary>
    public void Finish(Sequence sequence, FinishReason reason)
    {
        if (sequence.Status == SequenceStatus.Finished) return;
        if (!_running.Remove(sequence)) _waiting.Remove(sequence);
        blocks.Release(sequence);
        sequence.Status = SequenceStatus.Finished;
        sequence.FinishReason = reason;
        sequence.FlushText();
    }

    private void Preempt(Sequence sequence)
    {
        _running.Remove(sequence);
        blocks.Release(sequence);
        sequence.ComputedLength = 0;
        sequence.Status = SequenceStatus.Waiting;
        _waiting.AddFirst(sequence);
        Preemptions++;
    }
}
