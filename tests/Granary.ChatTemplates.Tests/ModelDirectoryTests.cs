namespace Granary.ChatTemplates.Tests;

/// <summary>FromModelDirectory: where the template and the special tokens come from.</summary>
public sealed class ModelDirectoryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "granary-chat-" + Guid.NewGuid().ToString("N"));

    public ModelDirectoryTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_dir, name), text);

    private static readonly ChatMessage[] Hi = [new("user", "hi")];

    [Fact]
    public void TemplateStringAndPlainTokens()
    {
        Write("tokenizer_config.json", """{"bos_token": "<s>", "eos_token": "</s>", "chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}""");

        var t = ChatTemplate.FromModelDirectory(_dir)!;

        Assert.Equal("<s>", t.BosToken);
        Assert.Equal("</s>", t.EosToken);
        Assert.Equal("<s>hi</s>", t.Render(Hi, addGenerationPrompt: false));
    }

    [Fact]
    public void TokensAsAddedTokenObjects()
    {
        Write("tokenizer_config.json", """
            {"bos_token": {"__type": "AddedToken", "content": "<|begin|>", "lstrip": false},
             "eos_token": {"content": "<|end|>"}, "chat_template": "{{ bos_token }}|{{ eos_token }}"}
            """);

        Assert.Equal("<|begin|>|<|end|>", ChatTemplate.FromModelDirectory(_dir)!.Render(Hi, false));
    }

    [Fact]
    public void NamedTemplateListTakesDefault()
    {
        Write("tokenizer_config.json", """
            {"chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "default {{ add_generation_prompt }}"}]}
            """);

        var t = ChatTemplate.FromModelDirectory(_dir)!;

        Assert.Null(t.BosToken);
        Assert.Equal("default True", t.Render(Hi, true));
    }

    [Fact]
    public void JinjaFileWinsOverConfig()
    {
        Write("tokenizer_config.json", """{"eos_token": "E", "chat_template": "from config"}""");
        Write("chat_template.jinja", "from file {{ eos_token }}\n");

        Assert.Equal("from file E", ChatTemplate.FromModelDirectory(_dir)!.Render(Hi, false));
    }

    [Fact]
    public void NoTemplateReturnsNull()
    {
        Write("tokenizer_config.json", """{"bos_token": "<s>"}""");
        Assert.Null(ChatTemplate.FromModelDirectory(_dir));
    }

    [Fact]
    public void EmptyDirectoryReturnsNull() => Assert.Null(ChatTemplate.FromModelDirectory(_dir));

    [Fact]
    public void MissingDirectoryThrows() =>
        Assert.Throws<DirectoryNotFoundException>(() => ChatTemplate.FromModelDirectory(Path.Combine(_dir, "nope")));

    [Fact]
    public void BadJsonNamesTheFile()
    {
        Write("tokenizer_config.json", "{ not json");
        var ex = Assert.Throws<InvalidDataException>(() => ChatTemplate.FromModelDirectory(_dir));
        Assert.Contains("tokenizer_config.json", ex.Message);
    }

    [Fact]
    public void ListWithoutDefaultIsAnError()
    {
        Write("tokenizer_config.json", """{"chat_template": [{"name": "rag", "template": "x"}]}""");
        var ex = Assert.Throws<InvalidDataException>(() => ChatTemplate.FromModelDirectory(_dir));
        Assert.Contains("default", ex.Message);
    }

    [Fact]
    public void SyntaxErrorNamesTheFileAndPosition()
    {
        Write("chat_template.jinja", "line one\n{% for m in messages %}{{ m.content }}");
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromModelDirectory(_dir));
        Assert.Contains("chat_template.jinja", ex.Message);
        Assert.Equal(2, ex.Line);
        Assert.Equal(1, ex.Column);
    }
}
