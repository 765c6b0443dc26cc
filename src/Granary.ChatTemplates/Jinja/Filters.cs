using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Granary.ChatTemplates.Jinja;

/// <summary>Jinja's built-in filters used by chat templates, with transformers' <c>tojson</c>.</summary>
internal static class Filters
{
    public static readonly HashSet<string> Names = new()
    {
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "forceescape", "indent",
        "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace",
        "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique",
        "upper", "wordcount", "batch", "striptags", "center",
    };

    private static readonly Regex WordBeginning = new(@"([-\s({\[<]+)", RegexOptions.CultureInvariant);

    public static object? Apply(string name, object? v, List<object?> args, Dictionary<string, object?> kw)
    {
        object? Arg(int i, string n, object? def = null) =>
            i < args.Count ? args[i] : kw.TryGetValue(n, out var x) ? x : def;

        switch (name)
        {
            case "default" or "d":
            {
                var def = Arg(0, "default_value", "");
                bool boolean = Py.Truthy(Arg(1, "boolean", false));
                return v is Undefined || (boolean && !Py.Truthy(v)) ? def : v;
            }
            case "length" or "count": return Py.Length(v);
            case "string": return Py.Str(v);
            case "safe": return v is Undefined ? "" : v is string ? v : Py.Str(v);
            case "escape" or "e" or "forceescape": return Escape(Py.Str(v));
            case "trim": return Methods.Strip(Py.Str(v), Arg(0, "chars"), true, true);
            case "upper": return Methods.Upper(Py.Str(v));
            case "lower": return Py.Str(v).ToLowerInvariant();
            case "capitalize": return Methods.Capitalize(Py.Str(v));
            case "title":
                return string.Concat(WordBeginning.Split(Py.Str(v)).Where(s => s.Length > 0)
                    .Select(s => char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant()));
            case "replace":
                return Methods.Replace(Py.Str(v), Py.Str(Arg(0, "old")), Py.Str(Arg(1, "new")),
                    Arg(2, "count") is { } count ? Py.ToLong(count) : -1);
            case "center":
            {
                // Python's str.center: the odd pad goes left only when the width is odd.
                string str = Py.Str(v);
                int width = (int)Py.ToLong(Arg(0, "width", 80L));
                int marg = width - str.Length;
                if (marg <= 0) return str;
                int left = marg / 2 + (marg & width & 1);
                return new string(' ', left) + str + new string(' ', marg - left);
            }
            case "wordcount": return (long)Methods.Split(Py.Str(v), null, -1, false).Count;
            case "striptags": return Regex.Replace(Regex.Replace(Py.Str(v), "<[^>]*>", ""), @"\s+", " ").Trim();
            case "indent": return Indent(Py.Str(v), Arg(0, "width", 4L), Py.Truthy(Arg(1, "first", false)), Py.Truthy(Arg(2, "blank", false)));
            case "tojson": return ToJson(v, Arg(1, "indent"), Arg(2, "separators"), Py.Truthy(Arg(3, "sort_keys", false)));
            case "int": return ToInt(v, Arg(0, "default", 0L), Arg(1, "base", 10L));
            case "float": return ToFloat(v, Arg(0, "default", 0.0));
            case "abs": return v is double d ? Math.Abs(d) : (object)Math.Abs(Py.ToLong(v));
            case "round":
            {
                int precision = (int)Py.ToLong(Arg(0, "precision", 0L));
                string method = Py.Str(Arg(1, "method", "common"));
                double x = Py.ToDouble(v);
                double m = Math.Pow(10, precision);
                return method switch
                {
                    "common" => Math.Round(x, precision, MidpointRounding.ToEven),
                    "ceil" => Math.Ceiling(x * m) / m,
                    "floor" => Math.Floor(x * m) / m,
                    _ => throw new ChatTemplateException("method must be common, ceil or floor"),
                };
            }
            case "list": return new List<object?>(Py.Iterate(v));
            case "first":
            {
                var items = Py.Iterate(v);
                return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
            }
            case "last":
            {
                var items = Py.Iterate(v);
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            }
            case "reverse":
                if (v is string rs) { var chars = rs.ToCharArray(); Array.Reverse(chars); return new string(chars); }
                { var l = new List<object?>(Py.Iterate(v)); l.Reverse(); return l; }
            case "items":
                if (v is Undefined) return new List<object?>();
                if (v is not Dictionary<object, object?> map) throw new ChatTemplateException("Can only get item pairs from a mapping.");
                return new List<object?>(map.Select(kv => (object?)new object?[] { kv.Key, kv.Value }));
            case "dictsort":
            {
                if (v is not Dictionary<object, object?> dict) throw new ChatTemplateException("You can only sort by either \"key\" or \"value\"");
                bool byValue = Py.Str(Arg(1, "by", "key")) == "value";
                var pairs = dict.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
                pairs.Sort((a, b) => Py.Compare(SortKey(((object?[])a!)[byValue ? 1 : 0], false), SortKey(((object?[])b!)[byValue ? 1 : 0], false), "<"));
                if (Py.Truthy(Arg(2, "reverse", false))) pairs.Reverse();
                return pairs;
            }
            case "join":
            {
                string sep = Py.Str(Arg(0, "d", ""));
                var items = Py.Iterate(v);
                if (Arg(1, "attribute") is { } attr) items = items.Select(x => GetPath(x, attr)).ToList();
                return string.Join(sep, items.Select(Py.Str));
            }
            case "unique":
            {
                var result = new List<object?>();
                bool cs = Py.Truthy(Arg(0, "case_sensitive", false));
                var attr = Arg(1, "attribute");
                foreach (var x in Py.Iterate(v))
                {
                    var k = SortKey(attr is null ? x : GetPath(x, attr), cs);
                    if (!result.Any(r => Py.Equals(SortKey(attr is null ? r : GetPath(r, attr), cs), k))) result.Add(x);
                }
                return result;
            }
            case "sort":
            {
                bool reverse = Py.Truthy(Arg(0, "reverse", false));
                bool cs = Py.Truthy(Arg(1, "case_sensitive", false));
                var attr = Arg(2, "attribute");
                var items = new List<object?>(Py.Iterate(v));
                var keyed = items.Select((x, i) => (Key: SortKey(attr is null ? x : GetPath(x, attr), cs), Item: x, Index: i)).ToList();
                keyed.Sort((a, b) => { int c = Py.Compare(a.Key, b.Key, "<"); return c != 0 ? (reverse ? -c : c) : a.Index.CompareTo(b.Index); });
                return keyed.Select(k => k.Item).ToList();
            }
            case "min" or "max":
            {
                bool cs = Py.Truthy(Arg(0, "case_sensitive", false));
                var attr = Arg(1, "attribute");
                var items = Py.Iterate(v);
                if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
                object? best = items[0];
                foreach (var x in items.Skip(1))
                {
                    int c = Py.Compare(SortKey(attr is null ? x : GetPath(x, attr), cs), SortKey(attr is null ? best : GetPath(best, attr), cs), "<");
                    if (name == "min" ? c < 0 : c > 0) best = x;
                }
                return best;
            }
            case "sum":
            {
                var attr = Arg(0, "attribute");
                object? total = Arg(1, "start", 0L);
                foreach (var x in Py.Iterate(v)) total = Py.Arith("+", total, attr is null ? x : GetPath(x, attr));
                return total;
            }
            case "batch":
            {
                long size = Py.ToLong(Arg(0, "linecount"));
                var fill = Arg(1, "fill_with");
                var result = new List<object?>();
                List<object?>? cur = null;
                foreach (var x in Py.Iterate(v))
                {
                    if (cur is null || cur.Count == size) { cur = new List<object?>(); result.Add(cur); }
                    cur.Add(x);
                }
                if (cur is not null && fill is not null) while (cur.Count < size) cur.Add(fill);
                return result;
            }
            case "selectattr" or "rejectattr" or "select" or "reject":
            {
                bool byAttr = name.EndsWith("attr");
                bool keep = name.StartsWith("select");
                int testIndex = byAttr ? 1 : 0;
                var attr = byAttr ? Arg(0, "attribute") : null;
                string? test = testIndex < args.Count ? Py.Str(args[testIndex]) : null;
                var testArgs = args.Skip(testIndex + 1).ToList();
                var result = new List<object?>();
                foreach (var x in Py.Iterate(v))
                {
                    var subject = byAttr ? GetPath(x, attr) : x;
                    bool ok = test is null ? Py.Truthy(subject) : TestFunctions.Apply(test, subject, testArgs);
                    if (ok == keep) result.Add(x);
                }
                return result;
            }
            case "map":
            {
                var result = new List<object?>();
                if (args.Count == 0 && kw.TryGetValue("attribute", out var attr))
                {
                    kw.TryGetValue("default", out var def);
                    bool hasDefault = kw.ContainsKey("default");
                    foreach (var x in Py.Iterate(v))
                    {
                        var r = GetPath(x, attr);
                        result.Add(r is Undefined && hasDefault ? def : r);
                    }
                    return result;
                }
                if (args.Count == 0) throw new ChatTemplateException("map requires a filter argument");
                string filter = Py.Str(args[0]);
                var rest = args.Skip(1).ToList();
                foreach (var x in Py.Iterate(v)) result.Add(Apply(filter, x, rest, kw));
                return result;
            }
            default:
                throw new ChatTemplateException($"No filter named '{name}'.");
        }
    }

    /// <summary>Attribute lookup by a dotted path, as selectattr/map/sort take it ("a.b" or an index).</summary>
    public static object? GetPath(object? obj, object? attribute)
    {
        if (attribute is long or bool) return Py.GetItem(obj, attribute);
        foreach (var part in Py.Str(attribute).Split('.'))
        {
            object? key = long.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long i) ? i : part;
            obj = Py.GetItem(obj, key);
        }
        return obj;
    }

    private static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    public static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&#34;",
                '\'' => "&#39;",
                _ => c.ToString(),
            });
        }
        return sb.ToString();
    }

    private static string Indent(string s, object? width, bool first, bool blank)
    {
        string ind = width as string ?? new string(' ', (int)Py.ToLong(width));
        s += "\n";
        var lines = s.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n').SkipLast(1).ToList();
        string rv;
        if (blank) rv = string.Join("\n" + ind, lines);
        else
        {
            rv = lines[0];
            if (lines.Count > 1) rv += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? ind + l : l));
        }
        return first ? ind + rv : rv;
    }

    private static string ToJson(object? v, object? indent, object? separators, bool sortKeys)
    {
        string? ind = indent switch
        {
            null => null,
            long n => new string(' ', (int)Math.Max(0, n)),
            string s => s,
            _ => throw new ChatTemplateException($"tojson indent must be an int or a string, not {Py.TypeName(indent)}"),
        };
        string itemSep = ind is null ? ", " : ",", keySep = ": ";
        if (separators is IList<object?> { Count: 2 } seps)
        {
            itemSep = Py.Str(seps[0]);
            keySep = Py.Str(seps[1]);
        }
        return PyJson.Dumps(v, ind, itemSep, keySep, sortKeys);
    }

    private static object? ToInt(object? v, object? def, object? @base)
    {
        switch (v)
        {
            case Undefined u: throw u.Fail();
            case long or bool: return Py.ToLong(v);
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : def;
            case string s:
            {
                s = s.Trim().Replace("_", "");
                int b = (int)Py.ToLong(@base);
                try
                {
                    if (b == 10 && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                    if (b != 10) return Convert.ToInt64(s.StartsWith("0x") || s.StartsWith("0b") || s.StartsWith("0o") ? s[2..] : s, b);
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException) { }
                return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f) ? (long)Math.Truncate(f) : def;
            }
            default: return def;
        }
    }

    private static object? ToFloat(object? v, object? def) => v switch
    {
        Undefined u => throw u.Fail(),
        double d => d,
        long or bool => Py.ToDouble(v),
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => f,
        _ => def,
    };
}
