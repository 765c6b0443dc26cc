namespace Granary.Grains;

/// <summary>A replica ended a request with a failure of its own (not the request's fault): the gateway resumes it elsewhere.</summary>
internal sealed class ReplicaFailedException(string message) : Exception(message);
