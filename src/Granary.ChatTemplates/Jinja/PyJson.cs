using System.Globalization;
using System.Text;

namespace Granary.ChatTemplates.Jinja;

/// <summary>
/// Python's <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=..., sort_keys=...)</c>, which is what
/// transformers installs as the <c>tojson</c> filter: byte-for-byte the same spacing and escapes.
/// </summary>
internal static class PyJson
{
    public static string Dumps(object? value, string? indent, string itemSep, string keySep, bool sortKeys)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSep, keySep, sortKeys, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, string? indent, string itemSep, string keySep, bool sortKeys, int level)
    {
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Py.FormatFloat(d));
                break;
            case string s: WriteString(sb, s); break;
            case IList<object?> list:
                if (list.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, level + 1);
                    Write(sb, list[i], indent, itemSep, keySep, sortKeys, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                break;
            case Dictionary<object, object?> dict:
            {
                if (dict.Count == 0) { sb.Append("{}"); break; }
                sb.Append('{');
                IEnumerable<KeyValuePair<object, object?>> entries = dict;
                if (sortKeys) entries = dict.OrderBy(kv => KeyString(kv.Key), StringComparer.Ordinal);
                bool first = true;
                foreach (var kv in entries)
                {
                    if (!first) sb.Append(itemSep);
                    first = false;
                    NewLine(sb, indent, level + 1);
                    WriteString(sb, KeyString(kv.Key));
                    sb.Append(keySep);
                    Write(sb, kv.Value, indent, itemSep, keySep, sortKeys, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                break;
            }
            case Namespace ns:
                Write(sb, ns.Attrs.ToDictionary(kv => (object)kv.Key, kv => kv.Value), indent, itemSep, keySep, sortKeys, level);
                break;
            default:
                throw new ChatTemplateException($"Object of type {Py.TypeName(v)} is not JSON serializable");
        }
    }

    private static string KeyString(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long or double => Py.Str(key),
        _ => throw new ChatTemplateException($"keys must be str, int, float, bool or None, not {Py.TypeName(key)}"),
    };

    private static void NewLine(StringBuilder sb, string? indent, int level)
    {
        if (indent is null) return;
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(indent);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
