namespace Granary.Checkpoints.Tests;

/// <summary>
/// Where the stories15M weights are, when they are: they are not in the repository (size). CI runs
/// scripts/fetch-stories15m.sh before the tests; elsewhere the tests that need them return early.
/// </summary>
public static class Stories15M
{
    /// <summary>
    /// The converted Hugging Face folder: env GRANARY_STORIES15M if set, else &lt;repo&gt;/models/stories15M if it
    /// holds config.json, else null.
    /// </summary>
    public static string? Directory
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("GRANARY_STORIES15M");
            if (!string.IsNullOrEmpty(env)) return env;
            string? repo = RepoRoot;
            if (repo == null) return null;
            string dir = Path.Combine(repo, "models", "stories15M");
            return File.Exists(Path.Combine(dir, "config.json")) ? dir : null;
        }
    }

    /// <summary>
    /// The original llama2.c files (stories15M.bin, tokenizer.bin): env GRANARY_STORIES15M_LLAMA2C if set, else the
    /// llama2c/ sub-folder that scripts/fetch-stories15m.sh keeps next to the converted model, else null.
    /// </summary>
    public static string? Llama2cDirectory
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("GRANARY_STORIES15M_LLAMA2C");
            if (!string.IsNullOrEmpty(env)) return env;
            if (Directory is not { } dir) return null;
            string sub = Path.Combine(dir, "llama2c");
            return File.Exists(Path.Combine(sub, "stories15M.bin")) && File.Exists(Path.Combine(sub, "tokenizer.bin")) ? sub : null;
        }
    }

    /// <summary>The repository root (the folder above the test binaries that holds src/ and tests/), or null.</summary>
    public static string? RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (System.IO.Directory.Exists(Path.Combine(d.FullName, "src")) && System.IO.Directory.Exists(Path.Combine(d.FullName, "tests")))
                    return d.FullName;
            return null;
        }
    }
}
