namespace Granary.ChatTemplates.Jinja;

// Runtime values follow Python: null = None, bool, long, double, string, List<object?> (list),
// object?[] (tuple), Dictionary<object, object?> (dict, insertion-ordered), plus the types below.

/// <summary>Jinja's default Undefined: empty and falsy, but using it as an object fails with <see cref="Message"/>.</summary>
internal sealed class Undefined
{
    public string Message { get; }
    public Undefined(string message) => Message = message;
    public static Undefined Named(string name) => new($"'{name}' is undefined");
    public ChatTemplateException Fail() => new(Message);
}

/// <summary>The object made by <c>namespace(...)</c>: attributes that can be assigned from inner scopes.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attrs { get; } = new();
}

/// <summary>A callable value: globals, macros, bound methods (<c>'x'.strip</c>) and <c>loop.cycle</c>.</summary>
internal sealed class JinjaFunction
{
    public string Name { get; }
    public Func<List<object?>, Dictionary<string, object?>, object?> Invoke { get; }

    public JinjaFunction(string name, Func<List<object?>, Dictionary<string, object?>, object?> invoke)
    {
        Name = name;
        Invoke = invoke;
    }
}

/// <summary>The <c>loop</c> variable inside a for block.</summary>
internal sealed class LoopContext
{
    private readonly List<object?> _items;
    public int Index0 { get; set; }
    public int Depth0 { get; init; }
    public LoopContext(List<object?> items) => _items = items;

    public object? Get(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(_items.Count - Index0),
        "revindex0" => (long)(_items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == _items.Count - 1,
        "length" => (long)_items.Count,
        "depth" => (long)Depth0 + 1,
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 + 1 < _items.Count ? _items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new JinjaFunction("cycle", (args, _) =>
            args.Count == 0 ? throw new ChatTemplateException("no items for cycling given") : args[Index0 % args.Count]),
        _ => new Undefined($"'LoopContext object' has no attribute '{name}'"),
    };
}
