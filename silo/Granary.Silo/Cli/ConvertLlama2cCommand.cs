using System.CommandLine;
using Granary.Models.Llama2c;

namespace Granary.Silo.Cli;

/// <summary><c>granary convert-llama2c</c>: a llama2.c checkpoint and tokenizer to a Hugging Face folder.</summary>
internal static class ConvertLlama2cCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "llama2.c model file (e.g. stories15M.bin)", Required = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "llama2.c tokenizer.bin", Required = true };
        var output = new Option<string>("--output") { Description = "Folder to write config.json, model.safetensors, tokenizer.json", Required = true };
        var command = new Command("convert-llama2c", "Convert a llama2.c checkpoint to a Hugging Face model folder") { checkpoint, tokenizer, output };
        command.SetAction(parse =>
        {
            var bar = new ProgressBar(parse.InvocationConfiguration.Error, "converting");
            Llama2cConverter.Convert(parse.GetValue(checkpoint)!, parse.GetValue(tokenizer)!, parse.GetValue(output)!, new TensorProgressBar(bar, "written"));
            bar.Done();
            parse.InvocationConfiguration.Error.WriteLine($"wrote {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
