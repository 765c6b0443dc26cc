namespace Granary.Compute;

/// <summary>
/// For a backend that computes a <see cref="IBackend.BeginTopK"/> at once (the CPU): the results of up to two not yet
/// read, oldest first, and those of the last one begun, whose best ids a step that <see cref="BatchLayout.FeedsTokens"/>
/// takes. A step launched before the last one's results are read does not change them. The arrays are reused, so
/// steady steps allocate nothing.
/// </summary>
public sealed class OutstandingTopK
{
    private readonly Results[] _slots = [new(), new()];
    private int _oldest, _count, _last = -1;

    /// <summary>
    /// The slot for a new request's results (to be filled by the caller). Results not yet read are kept only for a step
    /// that fed its tokens from the last request (<paramref name="stepFedTokens"/>: the step before it is read after
    /// this one is launched), so that none left unread by another caller is ever taken for a later one's; of two kept,
    /// the oldest goes.
    /// </summary>
    public Results Begin(TopKRequest request, bool stepFedTokens)
    {
        if (!stepFedTokens) _count = 0;
        if (_count == 2)
        {
            _oldest ^= 1;
            _count--;
        }
        _last = (_oldest + _count) & 1;
        _count++;
        var slot = _slots[_last];
        slot.Reset(request);
        return slot;
    }

    /// <summary>Copies out and forgets the oldest outstanding results when they answer <paramref name="request"/>.</summary>
    public bool TryRead(TopKRequest request, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (_count == 0 || _slots[_oldest].Request != request) return false;
        var slot = _slots[_oldest];
        int n = request.Rows * request.K;
        slot.Ids.AsSpan(0, n).CopyTo(ids);
        slot.Values.AsSpan(0, n).CopyTo(values);
        slot.LogSumExp.AsSpan(0, request.Rows).CopyTo(logSumExp);
        _oldest ^= 1;
        _count--;
        return true;
    }

    /// <summary>The best id of logit row <paramref name="row"/> of the last request begun (read or not).</summary>
    public int BestId(int row)
    {
        if (_last < 0) throw new InvalidOperationException("a step that feeds its tokens from the last top-k needs a top-k before it (BeginTopK)");
        var slot = _slots[_last];
        if (slot.Request.K == 0) throw new InvalidOperationException("the last top-k took no candidates (k = 0): there is no best id to feed");
        if ((uint)row >= (uint)slot.Request.Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"the last top-k has {slot.Request.Rows} rows");
        return slot.Ids[row * slot.Request.K];
    }

    /// <summary>One request's results.</summary>
    public sealed class Results
    {
        public TopKRequest Request { get; private set; }
        public int[] Ids { get; private set; } = [];
        public float[] Values { get; private set; } = [];
        public float[] LogSumExp { get; private set; } = [];

        internal void Reset(TopKRequest request)
        {
            Request = request;
            int n = request.Rows * request.K;
            if (Ids.Length < n)
            {
                Ids = new int[n];
                Values = new float[n];
            }
            if (LogSumExp.Length < request.Rows) LogSumExp = new float[request.Rows];
        }
    }
}
