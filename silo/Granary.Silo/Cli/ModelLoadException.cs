namespace Granary.Silo.Cli;

/// <summary>The served model's replica could not load (its message is the replica's own error): serve stops with it.</summary>
internal sealed class ModelLoadException(string message) : Exception(message);
