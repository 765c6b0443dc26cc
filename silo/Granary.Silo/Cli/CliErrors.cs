using Granary.ChatTemplates;
using Granary.Compute;

namespace Granary.Silo.Cli;

/// <summary>Turns the errors a user can cause (bad files, bad flags) into one line on stderr and exit code 1.</summary>
internal static class CliErrors
{
    public static async Task<int> RunAsync(TextWriter error, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled");
            return 130;
        }
    }

    private static bool IsUserError(Exception e) => e is ArgumentException or InvalidDataException or FormatException or IOException
        or NotSupportedException or ChatTemplateException or CommunicatorException or UnauthorizedAccessException or System.Text.Json.JsonException
        or TimeoutException or Orleans.Runtime.OrleansException or ModelLoadException;
}
