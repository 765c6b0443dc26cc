namespace Granary.Serving;

/// <summary>Nothing can run the request now (shutting down, or no replica of the model is live): 503.</summary>
public sealed class ServiceUnavailableException(string message) : Exception(message);
