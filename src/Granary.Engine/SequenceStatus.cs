namespace Granary.Engine;

public enum SequenceStatus
{
    Waiting,
    Running,
    Finished,
}
