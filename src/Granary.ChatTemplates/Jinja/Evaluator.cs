using System.Text;

namespace Granary.ChatTemplates.Jinja;

/// <summary>A variable scope; for bodies and macro calls get a child, if blocks share their parent's.</summary>
internal sealed class Scope
{
    public Dictionary<string, object?> Vars { get; } = new();
    public Scope? Parent { get; }
    public Scope(Scope? parent) => Parent = parent;

    public bool TryLookup(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
            if (s.Vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }
}

/// <summary>Tree-walking interpreter for the template AST.</summary>
internal sealed class Evaluator
{
    private enum Flow { Normal, Break, Continue }

    private readonly string _source;
    private int _depth;
    private const int MaxDepth = 100; // macro calls; Jinja itself stops near Python's recursion limit

    public Evaluator(string source) => _source = source;

    public string Render(List<Node> body, Scope scope)
    {
        var sb = new StringBuilder();
        Exec(body, scope, sb);
        return sb.ToString();
    }

    private Flow Exec(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            var flow = ExecNode(node, scope, sb);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private ChatTemplateException At(ChatTemplateException ex, int offset)
    {
        var (line, col) = SourcePosition.Of(_source, offset);
        return new ChatTemplateException(ex.Message, line, col, ex.InnerException);
    }

    private Flow ExecNode(Node node, Scope scope, StringBuilder sb)
    {
        try
        {
            switch (node)
            {
                case TextNode t:
                    sb.Append(t.Text);
                    return Flow.Normal;
                case OutputNode o:
                    sb.Append(Py.Str(Eval(o.Value, scope)));
                    return Flow.Normal;
                case IfNode i:
                    foreach (var (test, body) in i.Branches)
                        if (Py.Truthy(Eval(test, scope))) return Exec(body, scope, sb);
                    return i.Else is null ? Flow.Normal : Exec(i.Else, scope, sb);
                case ForNode f:
                    return ExecFor(f, scope, sb);
                case SetNode s:
                    Assign(s.Target, Eval(s.Value, scope), scope);
                    return Flow.Normal;
                case SetBlockNode sbn:
                    Assign(sbn.Target, RenderBody(sbn.Body, new Scope(scope)), scope);
                    return Flow.Normal;
                case MacroNode m:
                    scope.Vars[m.Name] = MakeMacro(m.Name, m.Params, m.Body, scope);
                    return Flow.Normal;
                case CallBlockNode c:
                {
                    var caller = MakeMacro("caller", c.Params, c.Body, scope);
                    sb.Append(Py.Str(EvalCall(c.Call, scope, caller)));
                    return Flow.Normal;
                }
                case FilterBlockNode fb:
                {
                    string text = RenderBody(fb.Body, new Scope(scope));
                    var (args, kwargs) = EvalArgs(fb.Args, fb.Kwargs, scope);
                    sb.Append(Py.Str(Filters.Apply(fb.Filter, text, args, kwargs)));
                    return Flow.Normal;
                }
                case BreakNode: return Flow.Break;
                case ContinueNode: return Flow.Continue;
                default: throw new InvalidOperationException($"Unknown node {node.GetType().Name}");
            }
        }
        catch (ChatTemplateException ex) when (ex.Line is null)
        {
            throw At(ex, node.Offset);
        }
    }

    private string RenderBody(List<Node> body, Scope scope)
    {
        var sb = new StringBuilder();
        Exec(body, scope, sb);
        return sb.ToString();
    }

    private Flow ExecFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var source = Eval(f.Iter, scope);
        if (source is null) throw Py.TypeError("'NoneType' object is not iterable");
        var items = Py.Iterate(source);
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                var s = new Scope(scope);
                Assign(f.Target, item, s);
                if (Py.Truthy(Eval(f.Filter, s))) kept.Add(item);
            }
            items = kept;
        }
        else if (ReferenceEquals(items, source))
        {
            items = new List<object?>(items); // the body may not observe later changes to the source
        }
        if (items.Count == 0)
            return f.Else is null ? Flow.Normal : Exec(f.Else, new Scope(scope), sb);

        var loop = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            loop.Index0 = i;
            var s = new Scope(scope);
            s.Vars["loop"] = loop;
            Assign(f.Target, items[i], s);
            var flow = Exec(f.Body, s, sb);
            if (flow == Flow.Break) break;
        }
        return Flow.Normal;
    }

    private void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr n:
                scope.Vars[n.Name] = value;
                break;
            case TupleExpr t:
            {
                if (value is Undefined u) throw u.Fail();
                var items = Py.Iterate(value);
                if (items.Count != t.Items.Count)
                    throw new ChatTemplateException(items.Count > t.Items.Count
                        ? $"too many values to unpack (expected {t.Items.Count})"
                        : $"not enough values to unpack (expected {t.Items.Count}, got {items.Count})");
                for (int i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope);
                break;
            }
            case GetAttrExpr { Target: NameExpr owner } a:
            {
                scope.TryLookup(owner.Name, out var ns);
                if (ns is not Namespace nsObj) throw new ChatTemplateException("cannot assign attribute on non-namespace object");
                nsObj.Attrs[a.Name] = value;
                break;
            }
            default:
                throw new ChatTemplateException("Can't assign to this expression");
        }
    }

    private JinjaFunction MakeMacro(string name, List<(string Name, Expr? Default)> ps, List<Node> body, Scope defScope) =>
        new(name, (args, kwargs) =>
        {
            if (args.Count > ps.Count)
                throw new ChatTemplateException($"macro '{name}' takes not more than {ps.Count} argument(s)");
            if (++_depth > MaxDepth) throw new ChatTemplateException("maximum recursion depth exceeded");
            try
            {
                var s = new Scope(defScope);
                for (int i = 0; i < ps.Count; i++)
                {
                    var (pn, def) = ps[i];
                    if (i < args.Count) s.Vars[pn] = args[i];
                    else if (kwargs.TryGetValue(pn, out var kv)) s.Vars[pn] = kv;
                    else s.Vars[pn] = def is null ? new Undefined($"parameter '{pn}' was not provided") : Eval(def, s);
                }
                foreach (var kv in kwargs)
                {
                    if (kv.Key == "caller") s.Vars["caller"] = kv.Value;
                    else if (!ps.Exists(p => p.Name == kv.Key))
                        throw new ChatTemplateException($"macro '{name}' takes no keyword argument '{kv.Key}'");
                }
                return RenderBody(body, s);
            }
            finally
            {
                _depth--;
            }
        });

    private (List<object?>, Dictionary<string, object?>) EvalArgs(List<Expr> args, List<(string Name, Expr Value)> kwargs, Scope scope)
    {
        var a = new List<object?>(args.Count);
        foreach (var e in args) a.Add(Eval(e, scope));
        var k = new Dictionary<string, object?>();
        foreach (var (n, e) in kwargs) k[n] = Eval(e, scope);
        return (a, k);
    }

    private object? EvalCall(CallExpr c, Scope scope, JinjaFunction? caller = null)
    {
        var callee = Eval(c.Callee, scope);
        var (args, kwargs) = EvalArgs(c.Args, c.Kwargs, scope);
        if (caller is not null) kwargs["caller"] = caller;
        return callee switch
        {
            JinjaFunction f => f.Invoke(args, kwargs),
            Undefined u => throw u.Fail(),
            _ => throw Py.TypeError($"'{Py.TypeName(callee)}' object is not callable"),
        };
    }

    public object? Eval(Expr e, Scope scope)
    {
        switch (e)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n: return scope.TryLookup(n.Name, out var v) ? v : Undefined.Named(n.Name);
            case ListExpr l:
            {
                var list = new List<object?>(l.Items.Count);
                foreach (var x in l.Items) list.Add(Eval(x, scope));
                return list;
            }
            case TupleExpr t:
            {
                var arr = new object?[t.Items.Count];
                for (int i = 0; i < arr.Length; i++) arr[i] = Eval(t.Items[i], scope);
                return arr;
            }
            case DictExpr d:
            {
                var dict = new Dictionary<object, object?>();
                foreach (var (k, x) in d.Items)
                {
                    var key = Eval(k, scope);
                    if (key is null or Undefined or List<object?> or Dictionary<object, object?>)
                        throw Py.TypeError($"unhashable or unsupported dict key type: '{Py.TypeName(key)}'");
                    dict[Py.NormalizeKey(key)] = Eval(x, scope);
                }
                return dict;
            }
            case GetAttrExpr a: return Py.GetAttr(Eval(a.Target, scope), a.Name);
            case GetItemExpr g: return Py.GetItem(Eval(g.Target, scope), Eval(g.Key, scope));
            case SliceExpr s:
                return Py.Slice(Eval(s.Target, scope),
                    s.Start is null ? null : Eval(s.Start, scope),
                    s.Stop is null ? null : Eval(s.Stop, scope),
                    s.Step is null ? null : Eval(s.Step, scope));
            case CallExpr c: return EvalCall(c, scope);
            case FilterExpr f:
            {
                var target = Eval(f.Target, scope);
                var (args, kwargs) = EvalArgs(f.Args, f.Kwargs, scope);
                return Filters.Apply(f.Name, target, args, kwargs);
            }
            case TestExpr t:
            {
                var target = Eval(t.Target, scope);
                var (args, _) = EvalArgs(t.Args, new(), scope);
                return TestFunctions.Apply(t.Name, target, args) != t.Negated;
            }
            case BinaryExpr b:
                switch (b.Op)
                {
                    case "and":
                    {
                        var left = Eval(b.Left, scope);
                        return Py.Truthy(left) ? Eval(b.Right, scope) : left;
                    }
                    case "or":
                    {
                        var left = Eval(b.Left, scope);
                        return Py.Truthy(left) ? left : Eval(b.Right, scope);
                    }
                    case "~":
                        return Py.Str(Eval(b.Left, scope)) + Py.Str(Eval(b.Right, scope));
                    default:
                        return Py.Arith(b.Op, Eval(b.Left, scope), Eval(b.Right, scope));
                }
            case UnaryExpr u:
            {
                var x = Eval(u.Operand, scope);
                switch (u.Op)
                {
                    case "not": return !Py.Truthy(x);
                    case "-":
                        return x switch
                        {
                            long l => (object)(-l),
                            double d => -d,
                            bool bo => bo ? -1L : 0L,
                            Undefined un => throw un.Fail(),
                            _ => throw Py.TypeError($"bad operand type for unary -: '{Py.TypeName(x)}'"),
                        };
                    default:
                        return x switch
                        {
                            long or double => x,
                            bool bo => bo ? 1L : 0L,
                            Undefined un => throw un.Fail(),
                            _ => throw Py.TypeError($"bad operand type for unary +: '{Py.TypeName(x)}'"),
                        };
                }
            }
            case CompareExpr c:
            {
                var left = Eval(c.First, scope);
                foreach (var (op, operand) in c.Rest)
                {
                    var right = Eval(operand, scope);
                    bool ok = op switch
                    {
                        "==" => Py.Equals(left, right),
                        "!=" => !Py.Equals(left, right),
                        "<" => Py.Compare(left, right, op) < 0,
                        "<=" => Py.Compare(left, right, op) <= 0,
                        ">" => Py.Compare(left, right, op) > 0,
                        ">=" => Py.Compare(left, right, op) >= 0,
                        "in" => Py.Contains(right, left),
                        _ => !Py.Contains(right, left),
                    };
                    if (!ok) return false;
                    left = right;
                }
                return true;
            }
            case ConditionalExpr c:
                if (Py.Truthy(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else is null ? new Undefined("the inline if-expression evaluated to false and no else section was defined.") : Eval(c.Else, scope);
            default:
                throw new InvalidOperationException($"Unknown expression {e.GetType().Name}");
        }
    }
}
