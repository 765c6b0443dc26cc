using System.Reflection;
using Orleans;
using Orleans.Runtime;
using StackExchange.Redis;

namespace Granary.Grains.Tests;

/// <summary>A grain call failing on Redis reaches its caller as an OrleansException that Orleans can serialize, naming the store's error.</summary>
public sealed class StoreErrorCallFilterTests
{
    [Fact]
    public async Task ARedisFailureInTheChainBecomesAnOrleansExceptionThatSaysSo()
    {
        var redis = new RedisException("No connection is active/available to service this operation");
        var context = FailingCall.Create(new InvalidOperationException("reading the membership table failed", redis));
        var e = await Assert.ThrowsAsync<OrleansException>(() => new StoreErrorCallFilter().Invoke(context));
        Assert.StartsWith("the cluster store is unreachable (RedisException: No connection is active", e.Message);
    }

    [Fact]
    public async Task OtherFailuresPassUnchanged()
    {
        var context = FailingCall.Create(new ArgumentException("max_tokens must be at least 1"));
        await Assert.ThrowsAsync<ArgumentException>(() => new StoreErrorCallFilter().Invoke(context));
    }

    /// <summary>A grain call context whose call throws the given exception (nothing else of it is read).</summary>
    public class FailingCall : DispatchProxy
    {
        private Exception? _failure;

        public static IIncomingGrainCallContext Create(Exception failure)
        {
            var context = DispatchProxy.Create<IIncomingGrainCallContext, FailingCall>();
            ((FailingCall)(object)context)._failure = failure;
            return context;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IIncomingGrainCallContext.Invoke) ? Task.FromException(_failure!) : throw new NotSupportedException(targetMethod?.Name);
    }
}
