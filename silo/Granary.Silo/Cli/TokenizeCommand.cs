using System.CommandLine;
using System.Text.Json;
using Granary.Tokenizers;

namespace Granary.Silo.Cli;

/// <summary><c>granary tokenize</c>: token ids of a text, like llama.cpp's llama-tokenize.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (tokenizer.json) or a GGUF vocabulary file", Required = true };
        var text = new Option<string>("--text") { Description = "Text to tokenize" };
        var textFile = new Option<string>("--text-file") { Description = "File whose UTF-8 content is tokenized" };
        var noSpecial = new Option<bool>("--no-special") { Description = "Add no BOS/EOS" };
        var output = new Option<string>("--output") { Description = "json or text", DefaultValueFactory = _ => "json" };
        output.AcceptOnlyFromAmong("json", "text");
        var command = new Command("tokenize", "Print the token ids of a text") { model, text, textFile, noSpecial, output };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(text) is null) == (result.GetResult(textFile) is null)) result.AddError("give exactly one of --text and --text-file");
        });
        command.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            var tokenizer = Directory.Exists(path) ? TokenizerLoader.FromModelDirectory(path) : TokenizerLoader.FromFile(path);
            string input = parse.GetValue(text) ?? File.ReadAllText(parse.GetValue(textFile)!);
            int[] ids = tokenizer.Encode(input, addSpecialTokens: !parse.GetValue(noSpecial));
            var stdout = parse.InvocationConfiguration.Output;
            if (parse.GetValue(output) == "json") stdout.WriteLine(JsonSerializer.Serialize(new { ids }));
            else stdout.WriteLine(string.Join(' ', ids));
            return 0;
        });
        return command;
    }
}
