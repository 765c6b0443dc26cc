using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Granary.ChatTemplates.Jinja;

/// <summary>Global functions of the transformers chat-template environment, and conversion of .NET values.</summary>
internal static class Globals
{
    private const long MaxRange = 100000; // Jinja's sandbox limit

    public static void Install(Scope scope, TimeProvider clock)
    {
        scope.Vars["range"] = new JinjaFunction("range", (a, _) => Range(a));
        scope.Vars["namespace"] = new JinjaFunction("namespace", (a, k) =>
        {
            var ns = new Namespace();
            foreach (var x in a)
            {
                if (x is not Dictionary<object, object?> d) throw new ChatTemplateException("namespace() positional argument must be a dict");
                foreach (var kv in d) ns.Attrs[Py.Str(kv.Key)] = kv.Value;
            }
            foreach (var kv in k) ns.Attrs[kv.Key] = kv.Value;
            return ns;
        });
        scope.Vars["dict"] = new JinjaFunction("dict", (a, k) =>
        {
            var d = a.Count > 0 && a[0] is Dictionary<object, object?> src ? new Dictionary<object, object?>(src) : new Dictionary<object, object?>();
            foreach (var kv in k) d[kv.Key] = kv.Value;
            return d;
        });
        scope.Vars["raise_exception"] = new JinjaFunction("raise_exception", (a, k) =>
            throw new ChatTemplateException(Py.Str(Methods.Arg(a, k, 0, "message"))));
        scope.Vars["strftime_now"] = new JinjaFunction("strftime_now", (a, k) =>
            Strftime(clock.GetLocalNow().DateTime, Py.Str(Methods.Arg(a, k, 0, "format"))));
    }

    private static List<object?> Range(List<object?> a)
    {
        long start = 0, stop, step = 1;
        if (a.Count == 1) stop = Py.ToLong(a[0]);
        else if (a.Count is 2 or 3)
        {
            start = Py.ToLong(a[0]);
            stop = Py.ToLong(a[1]);
            if (a.Count == 3) step = Py.ToLong(a[2]);
        }
        else throw new ChatTemplateException($"range expected 1 to 3 arguments, got {a.Count}");
        if (step == 0) throw new ChatTemplateException("range() arg 3 must not be zero");
        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > MaxRange) throw new ChatTemplateException($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        var list = new List<object?>((int)count);
        for (long i = 0; i < count; i++) list.Add(start + i * step);
        return list;
    }

    /// <summary>Python's strftime for the common directives (C locale), including glibc's %-d style no-padding flag.</summary>
    public static string Strftime(DateTime t, string fmt)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] != '%' || i + 1 >= fmt.Length) { sb.Append(fmt[i]); continue; }
            bool noPad = fmt[i + 1] == '-' && i + 2 < fmt.Length;
            if (noPad) i++;
            char c = fmt[++i];
            string Num(int v, int width) => noPad ? v.ToString(inv) : v.ToString(new string('0', width), inv);
            int hour12 = t.Hour % 12 == 0 ? 12 : t.Hour % 12;
            sb.Append(c switch
            {
                'a' => t.ToString("ddd", inv),
                'A' => t.ToString("dddd", inv),
                'b' or 'h' => t.ToString("MMM", inv),
                'B' => t.ToString("MMMM", inv),
                'd' => Num(t.Day, 2),
                'e' => t.Day.ToString(inv).PadLeft(2),
                'm' => Num(t.Month, 2),
                'y' => Num(t.Year % 100, 2),
                'Y' => t.Year.ToString(inv),
                'H' => Num(t.Hour, 2),
                'I' => Num(hour12, 2),
                'M' => Num(t.Minute, 2),
                'S' => Num(t.Second, 2),
                'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'j' => Num(t.DayOfYear, 3),
                'w' => ((int)t.DayOfWeek).ToString(inv),
                'u' => (t.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)t.DayOfWeek).ToString(inv),
                'D' => t.ToString("MM/dd/yy", inv),
                'F' => t.ToString("yyyy-MM-dd", inv),
                'T' => t.ToString("HH:mm:ss", inv),
                'R' => t.ToString("HH:mm", inv),
                'z' or 'Z' => "",
                '%' => "%",
                _ => "%" + c,
            });
        }
        return sb.ToString();
    }

    /// <summary>Converts a caller's .NET value (primitives, JsonElement/JsonNode, dictionaries, sequences) to a template value.</summary>
    public static object? FromDotNet(object? v) => v switch
    {
        null => null,
        string or bool or long or double => v,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint ui => (long)ui,
        float f => (double)f,
        decimal m => (double)m,
        char c => c.ToString(),
        Undefined or Namespace or JinjaFunction => v,
        ChatMessage msg => new Dictionary<object, object?> { ["role"] = msg.Role, ["content"] = msg.Content },
        JsonElement e => FromJson(e),
        System.Text.Json.Nodes.JsonNode n => FromJson(JsonSerializer.SerializeToElement(n)),
        IDictionary d => FromDictionary(d),
        IEnumerable<KeyValuePair<string, object?>> kvs => kvs.ToDictionary(kv => (object)kv.Key, kv => FromDotNet(kv.Value)),
        IEnumerable seq => seq.Cast<object?>().Select(FromDotNet).ToList(),
        _ => throw new ArgumentException($"Template variable of type {v.GetType().FullName} is not supported; use strings, numbers, booleans, lists, dictionaries or JsonElement."),
    };

    private static Dictionary<object, object?> FromDictionary(IDictionary d)
    {
        var r = new Dictionary<object, object?>();
        foreach (DictionaryEntry kv in d) r[Py.NormalizeKey(FromDotNet(kv.Key) ?? throw new ArgumentException("Dictionary keys cannot be null"))] = FromDotNet(kv.Value);
        return r;
    }

    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Aggregate(new Dictionary<object, object?>(), (d, p) => { d[p.Name] = FromJson(p.Value); return d; }),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) && e.GetRawText().AsSpan().IndexOfAny(".eE") < 0 ? l : (object)e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
