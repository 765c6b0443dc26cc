using System.Globalization;
using System.Text;

namespace Granary.ChatTemplates.Jinja;

/// <summary>Python methods callable from templates (<c>s.strip()</c>, <c>d.items()</c>...), as the immutable sandbox allows.</summary>
internal static class Methods
{
    private static readonly HashSet<string> UnsafeListMethods = new() { "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse" };
    private static readonly HashSet<string> UnsafeDictMethods = new() { "update", "pop", "popitem", "clear", "setdefault" };

    /// <summary>The bound method <paramref name="name"/> of <paramref name="obj"/>, or null when it has none.</summary>
    public static object? Bind(object? obj, string name)
    {
        switch (obj)
        {
            case string s:
                return StringMethod(s, name);
            case Dictionary<object, object?> d:
                if (UnsafeDictMethods.Contains(name)) return Unsafe(name, "dict");
                return name switch
                {
                    "items" => Fn(name, (a, k) => new List<object?>(d.Select(kv => (object?)new object?[] { kv.Key, kv.Value }))),
                    "keys" => Fn(name, (a, k) => new List<object?>(d.Keys)),
                    "values" => Fn(name, (a, k) => new List<object?>(d.Values)),
                    "get" => Fn(name, (a, k) =>
                    {
                        var key = Arg(a, k, 0, "key") ?? throw new ChatTemplateException("get expected at least 1 argument, got 0");
                        return d.TryGetValue(Py.NormalizeKey(key), out var v) ? v : Arg(a, k, 1, "default");
                    }),
                    "copy" => Fn(name, (a, k) => new Dictionary<object, object?>(d)),
                    _ => null,
                };
            case List<object?> l:
                if (UnsafeListMethods.Contains(name)) return Unsafe(name, "list");
                return name switch
                {
                    "index" => Fn(name, (a, k) =>
                    {
                        int i = l.FindIndex(x => Py.Equals(x, Arg(a, k, 0, "value")));
                        return i >= 0 ? (long)i : throw new ChatTemplateException($"{Py.Repr(Arg(a, k, 0, "value"))} is not in list");
                    }),
                    "count" => Fn(name, (a, k) => (long)l.Count(x => Py.Equals(x, Arg(a, k, 0, "value")))),
                    "copy" => Fn(name, (a, k) => new List<object?>(l)),
                    _ => null,
                };
            default:
                return null;
        }
    }

    private static Undefined Unsafe(string name, string type) => new($"access to attribute '{name}' of '{type}' object is unsafe.");

    private static JinjaFunction Fn(string name, Func<List<object?>, Dictionary<string, object?>, object?> f) => new(name, f);

    /// <summary>Positional argument <paramref name="index"/> or keyword <paramref name="name"/>, else null.</summary>
    public static object? Arg(List<object?> args, Dictionary<string, object?> kwargs, int index, string name) =>
        index < args.Count ? args[index] : kwargs.TryGetValue(name, out var v) ? v : null;

    private static string StrArg(List<object?> a, Dictionary<string, object?> k, int i, string n, string method)
    {
        var v = Arg(a, k, i, n);
        return v as string ?? throw new ChatTemplateException($"{method}() argument must be str, not {Py.TypeName(v)}");
    }

    private static object? StringMethod(string s, string name) => name switch
    {
        "strip" => Fn(name, (a, k) => Strip(s, Arg(a, k, 0, "chars"), true, true)),
        "lstrip" => Fn(name, (a, k) => Strip(s, Arg(a, k, 0, "chars"), true, false)),
        "rstrip" => Fn(name, (a, k) => Strip(s, Arg(a, k, 0, "chars"), false, true)),
        "upper" => Fn(name, (a, k) => Upper(s)),
        "lower" => Fn(name, (a, k) => s.ToLowerInvariant()),
        "title" => Fn(name, (a, k) => Title(s)),
        "capitalize" => Fn(name, (a, k) => Capitalize(s)),
        "swapcase" => Fn(name, (a, k) => string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)))),
        "startswith" => Fn(name, (a, k) => Affix(s, Arg(a, k, 0, "prefix"), name, (x, p) => x.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => Fn(name, (a, k) => Affix(s, Arg(a, k, 0, "suffix"), name, (x, p) => x.EndsWith(p, StringComparison.Ordinal))),
        "split" => Fn(name, (a, k) => Split(s, Arg(a, k, 0, "sep"), Arg(a, k, 1, "maxsplit") is { } m ? Py.ToLong(m) : -1, fromRight: false)),
        "rsplit" => Fn(name, (a, k) => Split(s, Arg(a, k, 0, "sep"), Arg(a, k, 1, "maxsplit") is { } m ? Py.ToLong(m) : -1, fromRight: true)),
        "splitlines" => Fn(name, (a, k) => new List<object?>(s.Split('\n').Select(x => (object?)x.TrimEnd('\r')).SkipLast(s.EndsWith('\n') ? 1 : 0))),
        "replace" => Fn(name, (a, k) => Replace(s, StrArg(a, k, 0, "old", name), StrArg(a, k, 1, "new", name), Arg(a, k, 2, "count") is { } c ? Py.ToLong(c) : -1)),
        "find" => Fn(name, (a, k) => (long)s.IndexOf(StrArg(a, k, 0, "sub", name), StringComparison.Ordinal)),
        "rfind" => Fn(name, (a, k) => (long)s.LastIndexOf(StrArg(a, k, 0, "sub", name), StringComparison.Ordinal)),
        "count" => Fn(name, (a, k) => (long)CountOf(s, StrArg(a, k, 0, "sub", name))),
        "join" => Fn(name, (a, k) => string.Join(s, Py.Iterate(Arg(a, k, 0, "iterable")).Select(x =>
            x as string ?? throw new ChatTemplateException($"sequence item: expected str instance, {Py.TypeName(x)} found")))),
        "isdigit" => Fn(name, (a, k) => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => Fn(name, (a, k) => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => Fn(name, (a, k) => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => Fn(name, (a, k) => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "isupper" => Fn(name, (a, k) => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "islower" => Fn(name, (a, k) => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        "removeprefix" => Fn(name, (a, k) => { var p = StrArg(a, k, 0, "prefix", name); return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s; }),
        "removesuffix" => Fn(name, (a, k) => { var p = StrArg(a, k, 0, "suffix", name); return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s; }),
        "format" => Fn(name, (a, k) => Format(s, a, k)),
        _ => null,
    };

    public static string Strip(string s, object? chars, bool left, bool right)
    {
        if (chars is Undefined u) throw u.Fail();
        if (chars is null) return left && right ? s.Trim() : left ? s.TrimStart() : s.TrimEnd();
        if (chars is not string cs) throw new ChatTemplateException($"strip arg must be None or str");
        var set = cs.ToCharArray();
        return left && right ? s.Trim(set) : left ? s.TrimStart(set) : s.TrimEnd(set);
    }

    private static bool Affix(string s, object? arg, string method, Func<string, string, bool> test) => arg switch
    {
        string p => test(s, p),
        object?[] t => t.Any(x => x is string p && test(s, p)),
        _ => throw new ChatTemplateException($"{method} first arg must be str or a tuple of str, not {Py.TypeName(arg)}"),
    };

    public static List<object?> Split(string s, object? sep, long maxSplit, bool fromRight)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            // Whitespace split drops empty pieces.
            var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (maxSplit < 0 || words.Length <= maxSplit) { parts.AddRange(words); return parts; }
            if (!fromRight)
            {
                int pos = 0, done = 0;
                while (done < maxSplit)
                {
                    while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
                    int start = pos;
                    while (pos < s.Length && !char.IsWhiteSpace(s[pos])) pos++;
                    parts.Add(s[start..pos]);
                    done++;
                }
                while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
                if (pos < s.Length) parts.Add(s[pos..]);
                return parts;
            }
            int end = s.Length, splits = 0;
            var rev = new List<object?>();
            while (splits < maxSplit)
            {
                while (end > 0 && char.IsWhiteSpace(s[end - 1])) end--;
                int start = end;
                while (start > 0 && !char.IsWhiteSpace(s[start - 1])) start--;
                rev.Add(s[start..end]);
                end = start;
                splits++;
            }
            while (end > 0 && char.IsWhiteSpace(s[end - 1])) end--;
            if (end > 0) parts.Add(s[..end]);
            rev.Reverse();
            parts.AddRange(rev);
            return parts;
        }
        if (sep is not string sp) throw new ChatTemplateException($"must be str or None, not {Py.TypeName(sep)}");
        if (sp.Length == 0) throw new ChatTemplateException("empty separator");
        var all = s.Split(sp);
        if (maxSplit < 0 || all.Length - 1 <= maxSplit) { parts.AddRange(all); return parts; }
        int m = (int)maxSplit;
        if (!fromRight)
        {
            parts.AddRange(all.Take(m));
            parts.Add(string.Join(sp, all.Skip(m)));
        }
        else
        {
            parts.Add(string.Join(sp, all.Take(all.Length - m)));
            parts.AddRange(all.Skip(all.Length - m));
        }
        return parts;
    }

    public static string Replace(string s, string old, string @new, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertBetween(s, @new) : s.Replace(old, @new, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int i = old.Length == 0 ? (pos <= s.Length ? pos : -1) : s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0) break;
            sb.Append(s, pos, i - pos).Append(@new);
            if (old.Length == 0) { if (i < s.Length) sb.Append(s[i]); pos = i + 1; }
            else pos = i + old.Length;
        }
        if (pos < s.Length) sb.Append(s, pos, s.Length - pos);
        return sb.ToString();
    }

    private static string InsertBetween(string s, string sep)
    {
        var sb = new StringBuilder(sep);
        foreach (char c in s) sb.Append(c).Append(sep);
        return sb.ToString();
    }

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0, pos = 0;
        while ((pos = s.IndexOf(sub, pos, StringComparison.Ordinal)) >= 0) { n++; pos += sub.Length; }
        return n;
    }

    /// <summary>Python's str.title: uppercase after any non-letter, lowercase elsewhere.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevLetter = false;
        foreach (char c in s)
        {
            sb.Append(prevLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }

    /// <summary>Python's str.upper uses full case mapping: 'ß' becomes "SS".</summary>
    public static string Upper(string s) => s.ToUpperInvariant().Replace("ß", "SS", StringComparison.Ordinal);

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>str.format with {}, {0} and {name} fields (no format specs beyond plain conversion).</summary>
    private static string Format(string fmt, List<object?> args, Dictionary<string, object?> kwargs)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == '{' && i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < fmt.Length && fmt[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            int end = fmt.IndexOf('}', i);
            if (end < 0) throw new ChatTemplateException("Single '{' encountered in format string");
            string field = fmt[(i + 1)..end];
            int colon = field.IndexOf(':');
            if (colon >= 0) field = field[..colon];
            object? v;
            if (field.Length == 0) v = auto < args.Count ? args[auto++] : throw new ChatTemplateException("Replacement index out of range for positional args tuple");
            else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int idx))
                v = idx < args.Count ? args[idx] : throw new ChatTemplateException("Replacement index out of range for positional args tuple");
            else v = kwargs.TryGetValue(field, out var kv) ? kv : throw new ChatTemplateException($"'{field}'");
            sb.Append(Py.Str(v));
            i = end;
        }
        return sb.ToString();
    }
}
