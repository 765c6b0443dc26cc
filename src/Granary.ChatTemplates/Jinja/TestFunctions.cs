namespace Granary.ChatTemplates.Jinja;

/// <summary>Jinja tests: <c>x is defined</c>, <c>x is string</c>, <c>x is divisibleby 3</c>...</summary>
internal static class TestFunctions
{
    public static readonly HashSet<string> Names = new()
    {
        "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "odd", "even", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan",
        "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "sameas", "lower", "upper", "escaped", "filter", "test",
    };

    public static bool Apply(string name, object? v, List<object?> args)
    {
        object? A(int i) => i < args.Count ? args[i] : throw new ChatTemplateException($"test '{name}' expects an argument");
        switch (name)
        {
            case "defined": return v is not Undefined;
            case "undefined": return v is Undefined;
            case "none": return v is null;
            case "boolean": return v is bool;
            case "false": return v is false;
            case "true": return v is true;
            case "integer": return v is long;
            case "float": return v is double;
            case "number": return v is long or double or bool;
            case "string": return v is string;
            case "mapping": return v is Dictionary<object, object?>;
            case "iterable": return v is string or IList<object?> or Dictionary<object, object?> or Undefined;
            case "sequence": return v is string or IList<object?> or Dictionary<object, object?>;
            case "callable": return v is JinjaFunction;
            case "odd": return Py.ToLong(v) % 2 != 0;
            case "even": return Py.ToLong(v) % 2 == 0;
            case "divisibleby": return Py.ToLong(v) % Py.ToLong(A(0)) == 0;
            case "eq" or "equalto" or "==": return Py.Equals(v, A(0));
            case "ne" or "!=": return !Py.Equals(v, A(0));
            case "lt" or "lessthan" or "<": return Py.Compare(v, A(0), "<") < 0;
            case "le" or "<=": return Py.Compare(v, A(0), "<=") <= 0;
            case "gt" or "greaterthan" or ">": return Py.Compare(v, A(0), ">") > 0;
            case "ge" or ">=": return Py.Compare(v, A(0), ">=") >= 0;
            case "in": return Py.Contains(A(0), v);
            case "sameas": return ReferenceEquals(v, A(0)) || (v is null && A(0) is null) || (v is bool b && A(0) is bool c && b == c);
            case "lower": return v is string s && s == s.ToLowerInvariant();
            case "upper": return v is string u && u == u.ToUpperInvariant();
            case "escaped": return false;
            case "filter": return A(0) is string f && Filters.Names.Contains(f);
            case "test": return A(0) is string t && Names.Contains(t);
            default: throw new ChatTemplateException($"No test named '{name}'.");
        }
    }
}
