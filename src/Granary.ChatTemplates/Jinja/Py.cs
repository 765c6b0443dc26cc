using System.Globalization;
using System.Text;

namespace Granary.ChatTemplates.Jinja;

/// <summary>Python semantics for runtime values: truthiness, str/repr, equality, ordering, arithmetic, lookups.</summary>
internal static class Py
{
    public static ChatTemplateException TypeError(string message) => new(message);

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        Dictionary<object, object?> => "dict",
        Undefined => "Undefined",
        Namespace => "Namespace",
        LoopContext => "LoopContext",
        JinjaFunction => "function",
        _ => v.GetType().Name,
    };

    /// <summary>Jinja's object_type_repr, used in undefined messages.</summary>
    public static string ObjectTypeRepr(object? v) => v is null ? "None" : $"{TypeName(v)} object";

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        object?[] t => t.Length > 0,
        Dictionary<object, object?> d => d.Count > 0,
        Undefined => false,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    // ------------------------------------------------------------------ str / repr

    public static string Str(object? v) => v switch
    {
        null => "None",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        Undefined => "",
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case string s: AppendStringRepr(sb, s); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, list[i]); }
                sb.Append(']');
                break;
            case object?[] tuple:
                sb.Append('(');
                for (int i = 0; i < tuple.Length; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, tuple[i]); }
                if (tuple.Length == 1) sb.Append(',');
                sb.Append(')');
                break;
            case Dictionary<object, object?> dict:
                sb.Append('{');
                bool first = true;
                foreach (var kv in dict)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, kv.Key);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value);
                }
                sb.Append('}');
                break;
            case Namespace ns:
                sb.Append("<Namespace ");
                AppendRepr(sb, ns.Attrs.ToDictionary(kv => (object)kv.Key, kv => kv.Value));
                sb.Append('>');
                break;
            case JinjaFunction f: sb.Append("<function ").Append(f.Name).Append('>'); break;
            case Undefined: sb.Append("Undefined"); break;
            default: sb.Append(Str(v)); break;
        }
    }

    public static void AppendStringRepr(StringBuilder sb, string s)
    {
        char q = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(q);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == q) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append(q);
    }

    /// <summary>Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Shortest round-trip digits come from "R"; re-derive the decimal exponent from it.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool neg = shortest[0] == '-';
        if (neg) shortest = shortest[1..];
        int exp;
        string digits;
        int ePos = shortest.IndexOfAny(new[] { 'E', 'e' });
        string mantissa = ePos >= 0 ? shortest[..ePos] : shortest;
        int e10 = ePos >= 0 ? int.Parse(shortest[(ePos + 1)..], CultureInfo.InvariantCulture) : 0;
        int dot = mantissa.IndexOf('.');
        string intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        string fracPart = dot >= 0 ? mantissa[(dot + 1)..] : "";
        digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - digits.Length;
        exp = intPart.Length - leadingZeros + e10 - 1; // decimal exponent of first significant digit
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var sb = new StringBuilder();
        if (neg) sb.Append('-');
        if (exp < -4 || exp >= 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(exp < 0 ? '-' : '+').Append(Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (exp < 0)
        {
            sb.Append("0.").Append('0', -exp - 1).Append(digits);
        }
        else if (digits.Length <= exp + 1)
        {
            sb.Append(digits).Append('0', exp + 1 - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, exp + 1).Append('.').Append(digits, exp + 1, digits.Length - exp - 1);
        }
        return sb.ToString();
    }

    // ------------------------------------------------------------------ equality / ordering

    public static new bool Equals(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }
        switch (a)
        {
            case string sa: return b is string sb && sa == sb;
            case List<object?> la: return b is List<object?> lb && SeqEquals(la, lb);
            case object?[] ta: return b is object?[] tb && SeqEquals(ta, tb);
            case Dictionary<object, object?> da:
                if (b is not Dictionary<object, object?> db || da.Count != db.Count) return false;
                foreach (var kv in da)
                    if (!db.TryGetValue(kv.Key, out var v) || !Equals(kv.Value, v)) return false;
                return true;
            case Undefined: return b is Undefined;
            default: return ReferenceEquals(a, b);
        }
    }

    private static bool SeqEquals(IList<object?> a, IList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (!Equals(a[i], b[i])) return false;
        return true;
    }

    public static int Compare(object? a, object? b, string op)
    {
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return ToLong(a).CompareTo(ToLong(b));
        }
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is IList<object?> la && b is IList<object?> lb && a.GetType() == b.GetType())
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (Equals(la[i], lb[i])) continue;
                return Compare(la[i], lb[i], op);
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw TypeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is string sub) return s.Contains(sub, StringComparison.Ordinal);
                if (item is Undefined u) throw u.Fail();
                throw TypeError($"'in <string>' requires string as left operand, not {TypeName(item)}");
            case Dictionary<object, object?> d: return item is not null && d.ContainsKey(NormalizeKey(item));
            case Undefined: return false;
            case IList<object?> l:
                foreach (var x in l) if (Equals(x, item)) return true;
                return false;
            default:
                throw TypeError($"argument of type '{TypeName(container)}' is not iterable");
        }
    }

    // ------------------------------------------------------------------ numbers

    public static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw TypeError($"expected a number, got '{TypeName(v)}'"),
    };

    public static double ToDouble(object? v) => v switch
    {
        double d => d,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw TypeError($"expected a number, got '{TypeName(v)}'"),
    };

    public static object? Arith(string op, object? a, object? b)
    {
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (IsNumber(a) && IsNumber(b))
        {
            bool isFloat = a is double || b is double;
            switch (op)
            {
                case "+": return isFloat ? ToDouble(a) + ToDouble(b) : (object)(ToLong(a) + ToLong(b));
                case "-": return isFloat ? ToDouble(a) - ToDouble(b) : (object)(ToLong(a) - ToLong(b));
                case "*": return isFloat ? ToDouble(a) * ToDouble(b) : (object)(ToLong(a) * ToLong(b));
                case "/":
                    if (ToDouble(b) == 0) throw new ChatTemplateException("division by zero");
                    return ToDouble(a) / ToDouble(b);
                case "//":
                    if (ToDouble(b) == 0) throw new ChatTemplateException("integer division or modulo by zero");
                    if (isFloat) return Math.Floor(ToDouble(a) / ToDouble(b));
                    {
                        long x = ToLong(a), y = ToLong(b), q = x / y;
                        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
                        return q;
                    }
                case "%":
                    if (ToDouble(b) == 0) throw new ChatTemplateException("integer division or modulo by zero");
                    if (isFloat)
                    {
                        double x = ToDouble(a), y = ToDouble(b), m = x % y;
                        if (m != 0 && (m < 0) != (y < 0)) m += y;
                        return m;
                    }
                    {
                        long x = ToLong(a), y = ToLong(b), m = x % y;
                        if (m != 0 && (m < 0) != (y < 0)) m += y;
                        return m;
                    }
                case "**":
                    if (!isFloat && ToLong(b) >= 0)
                    {
                        long r = 1, x = ToLong(a);
                        for (long i = ToLong(b); i > 0; i--) r = checked(r * x);
                        return r;
                    }
                    return Math.Pow(ToDouble(a), ToDouble(b));
            }
        }
        switch (op)
        {
            case "+" when a is string sa && b is string sb: return sa + sb;
            case "+" when a is List<object?> la && b is List<object?> lb: return new List<object?>(la.Concat(lb));
            case "+" when a is object?[] ta && b is object?[] tb: return ta.Concat(tb).ToArray();
            case "*" when a is string s && b is long or bool: return Repeat(s, ToLong(b));
            case "*" when b is string s && a is long or bool: return Repeat(s, ToLong(a));
            case "*" when a is List<object?> l && b is long n: return new List<object?>(Enumerable.Range(0, (int)Math.Max(0, n)).SelectMany(_ => l));
            case "%" when a is string fmt: return PercentFormat(fmt, b);
        }
        if (op == "+" && a is string) throw TypeError($"can only concatenate str (not \"{TypeName(b)}\") to str");
        if (op == "+" && a is List<object?>) throw TypeError($"can only concatenate list (not \"{TypeName(b)}\") to list");
        throw TypeError($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0) return "";
        var sb = new StringBuilder();
        for (long i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    /// <summary>printf-style <c>'%s' % x</c> for %s, %d, %r, %f and %%.</summary>
    private static string PercentFormat(string fmt, object? args)
    {
        var values = args is object?[] t ? t : new[] { args };
        var sb = new StringBuilder();
        int k = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] != '%' || i + 1 >= fmt.Length) { sb.Append(fmt[i]); continue; }
            char c = fmt[++i];
            if (c == '%') { sb.Append('%'); continue; }
            if (k >= values.Length) throw TypeError("not enough arguments for format string");
            object? v = values[k++];
            sb.Append(c switch
            {
                's' => Str(v),
                'r' => Repr(v),
                'd' or 'i' => ToLong(v).ToString(CultureInfo.InvariantCulture),
                'f' => ToDouble(v).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw TypeError($"unsupported format character '{c}'"),
            });
        }
        return sb.ToString();
    }

    // ------------------------------------------------------------------ containers

    /// <summary>Makes a value usable as a dict key: ints and bools hash alike, as in Python.</summary>
    public static object NormalizeKey(object key) => key switch
    {
        bool b => b ? 1L : 0L,
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => (long)d,
        _ => key,
    };

    public static List<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => new List<object?>(t),
        string s => StringChars(s),
        Dictionary<object, object?> d => new List<object?>(d.Keys),
        Undefined => new List<object?>(),
        _ => throw TypeError($"'{TypeName(v)}' object is not iterable"),
    };

    private static List<object?> StringChars(string s)
    {
        var list = new List<object?>();
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { list.Add(s.Substring(i, 2)); i++; }
            else list.Add(s[i].ToString());
        }
        return list;
    }

    public static long Length(object? v) => v switch
    {
        string s => CodePointCount(s),
        List<object?> l => l.Count,
        object?[] t => t.Length,
        Dictionary<object, object?> d => d.Count,
        Undefined => 0,
        Namespace ns => ns.Attrs.Count,
        _ => throw TypeError($"object of type '{TypeName(v)}' has no len()"),
    };

    private static long CodePointCount(string s)
    {
        long n = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            n++;
        }
        return n;
    }

    /// <summary>Jinja's <c>obj.name</c>: a Python attribute (method) first, then the item.</summary>
    public static object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case Undefined u: throw u.Fail();
            case Namespace ns:
                return ns.Attrs.TryGetValue(name, out var nv) ? nv : new Undefined($"'Namespace object' has no attribute '{name}'");
            case LoopContext loop: return loop.Get(name);
        }
        var method = Methods.Bind(obj, name);
        if (method is not null) return method;
        if (obj is Dictionary<object, object?> d && d.TryGetValue(name, out var v)) return v;
        return MissingAttribute(obj, name);
    }

    /// <summary>Jinja's <c>obj[key]</c>: the item first, then (string keys) a Python attribute.</summary>
    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case Undefined u: throw u.Fail();
            case Dictionary<object, object?> d:
                if (key is not null && d.TryGetValue(NormalizeKey(key), out var v)) return v;
                break;
            case IList<object?> or string when key is long or bool:
            {
                long i = ToLong(key);
                long n = obj is string s0 ? s0.Length : ((IList<object?>)obj).Count;
                if (i < 0) i += n;
                if (i >= 0 && i < n) return obj is string s1 ? s1[(int)i].ToString() : ((IList<object?>)obj)[(int)i];
                break;
            }
            case LoopContext or Namespace when key is string ks:
                return GetAttr(obj, ks);
        }
        if (key is string name)
        {
            var method = Methods.Bind(obj, name);
            if (method is not null) return method;
            return MissingAttribute(obj, name);
        }
        return new Undefined($"{ObjectTypeRepr(obj)} has no element {Repr(key)}");
    }

    private static Undefined MissingAttribute(object? obj, string name)
    {
        var sb = new StringBuilder();
        AppendStringRepr(sb, ObjectTypeRepr(obj));
        sb.Append(" has no attribute ");
        AppendStringRepr(sb, name);
        return new Undefined(sb.ToString());
    }

    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        if (obj is Undefined u) throw u.Fail();
        long st = step is null ? 1 : ToLong(step);
        if (st == 0) throw new ChatTemplateException("slice step cannot be zero");
        IList<object?> items = obj switch
        {
            string s => StringChars(s),
            IList<object?> l => l,
            _ => throw TypeError($"'{TypeName(obj)}' object is not subscriptable"),
        };
        long n = items.Count;
        long Norm(object? v, long defPos, long defNeg)
        {
            if (v is null) return st > 0 ? defPos : defNeg;
            long i = ToLong(v);
            if (i < 0) i += n;
            return st > 0 ? Math.Clamp(i, 0, n) : Math.Clamp(i, -1, n - 1);
        }
        long a = Norm(start, 0, n - 1), b = Norm(stop, n, -1);
        var result = new List<object?>();
        if (st > 0) for (long i = a; i < b; i += st) result.Add(items[(int)i]);
        else for (long i = a; i > b; i += st) result.Add(items[(int)i]);
        return obj switch
        {
            string => string.Concat(result.Select(x => (string)x!)),
            object?[] => result.ToArray(),
            _ => result,
        };
    }
}
