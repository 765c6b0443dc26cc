namespace Granary.Cluster.Transport;

/// <summary>Why a call to a grain on another silo failed.</summary>
public enum GrainCallFailure
{
    /// <summary>
    /// No answer came: the connection was refused, could not be opened in time, or was lost before the answer's
    /// headers. The call may or may not have run on the other silo.
    /// </summary>
    Unreachable,

    /// <summary>The other silo refused the caller: wrong secret (401) or another cluster (403).</summary>
    Unauthorized,

    /// <summary>The other silo has no such activation, grain type or method (404).</summary>
    NotFound,

    /// <summary>The handler on the other silo threw (500, or an error frame of a stream); the message is its message.</summary>
    Remote,

    /// <summary>No complete answer within the call's timeout.</summary>
    Timeout,

    /// <summary>
    /// The answer started but did not arrive whole: a stream ended without its end frame, or the connection dropped
    /// mid-answer, or the answer broke the framing or the size limit.
    /// </summary>
    Broken,
}
