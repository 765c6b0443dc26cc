using System.Security.Cryptography;
using System.Text;

namespace Granary.Cuda.Kernels;

/// <summary>
/// Compiled kernel images on disk, keyed by the SHA-256 of everything that shapes them (source, compiler
/// options, compiler version), so a changed kernel or toolkit never loads a stale binary. Writes go to a
/// temporary file first and are renamed into place: concurrent processes never read half a file.
/// </summary>
public sealed class KernelCache
{
    public KernelCache(string directory) => Directory = directory;

    /// <summary>The folder that holds the images.</summary>
    public string Directory { get; }

    /// <summary>
    /// $GRANARY_KERNEL_CACHE, else $XDG_CACHE_HOME/granary/kernels, else ~/.cache/granary/kernels (the
    /// temporary folder when there is no home).
    /// </summary>
    public static KernelCache Default()
    {
        string? explicitDir = Environment.GetEnvironmentVariable("GRANARY_KERNEL_CACHE");
        if (!string.IsNullOrEmpty(explicitDir)) return new KernelCache(explicitDir);
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string root = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : Path.GetTempPath();
        return new KernelCache(Path.Combine(root, "granary", "kernels"));
    }

    /// <summary>Hex SHA-256 of the source, the options (in order) and the compiler version.</summary>
    public static string Key(string source, IReadOnlyList<string> options, string compilerVersion)
    {
        var text = new StringBuilder();
        text.Append(compilerVersion).Append('\0');
        foreach (string option in options) text.Append(option).Append('\0');
        text.Append(source);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    public string PathOf(string key) => Path.Combine(Directory, key + ".cubin");

    /// <summary>The cached image, or null when absent or unreadable.</summary>
    public byte[]? TryRead(string key)
    {
        try
        {
            string path = PathOf(key);
            return File.Exists(path) ? File.ReadAllBytes(path) : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Stores an image; a cache that cannot be written is skipped (the kernels still work, compiled each start).</summary>
    public bool TryWrite(string key, ReadOnlySpan<byte> image)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            string temporary = Path.Combine(Directory, $"{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            File.WriteAllBytes(temporary, image.ToArray());
            File.Move(temporary, PathOf(key), overwrite: true);
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Removes a cached image (one the driver refused to load).</summary>
    public void Remove(string key)
    {
        try { File.Delete(PathOf(key)); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
