using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Granary.ChatTemplates.Jinja;

internal enum TokenKind { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof }

internal readonly record struct Token(TokenKind Kind, string Value, int Offset)
{
    public override string ToString() => Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.VarEnd => "'}}'",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.String => "string",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into text and tag tokens, applying Jinja's whitespace control the way Hugging Face
/// renders chat templates: trim_blocks and lstrip_blocks on, plus the per-tag '-' and '+' modifiers.
/// </summary>
internal sealed class Lexer
{
    private static readonly Regex RawBegin = new(@"\G\{%[-+]?\s*raw\s*([-+]?)%\}", RegexOptions.CultureInvariant);
    private static readonly Regex RawEnd = new(@"\{%([-+]?)\s*endraw\s*([-+]?)%\}", RegexOptions.CultureInvariant);

    private readonly string _src;
    private readonly List<Token> _tokens = new();
    private int _pos;

    private Lexer(string src) => _src = src;

    public static List<Token> Tokenize(string source)
    {
        var lx = new Lexer(source);
        lx.Run();
        return lx._tokens;
    }

    private ChatTemplateException Error(string message, int offset)
    {
        var (line, col) = SourcePosition.Of(_src, offset);
        return new ChatTemplateException($"{message} (line {line}, column {col})", line, col);
    }

    private void Run()
    {
        bool stripNextText = false; // a '-' closed the previous tag
        while (_pos <= _src.Length)
        {
            int tag = FindTagStart(_pos);
            int textEnd = tag < 0 ? _src.Length : tag;
            string text = _src.Substring(_pos, textEnd - _pos);
            if (stripNextText) text = text.TrimStart();
            stripNextText = false;
            if (tag < 0)
            {
                if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, _pos));
                break;
            }

            char kind = _src[tag + 1];
            char modifier = tag + 2 < _src.Length ? _src[tag + 2] : '\0';
            if (modifier == '-')
                text = text.TrimEnd();
            else if (kind != '{' && modifier != '+')
                text = LStripBlock(text, _pos);
            if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, _pos));

            int inner = tag + 2 + (modifier is '-' or '+' ? 1 : 0);
            if (kind == '#')
            {
                int end = _src.IndexOf("#}", inner, StringComparison.Ordinal);
                if (end < 0) throw Error("Missing end of comment tag", tag);
                bool minus = end > inner && _src[end - 1] == '-';
                bool plus = end > inner && _src[end - 1] == '+';
                _pos = end + 2;
                stripNextText = minus;
                if (!minus && !plus) TrimBlockNewline();
                continue;
            }
            if (kind == '%')
            {
                var raw = RawBegin.Match(_src, tag);
                if (raw.Success)
                {
                    LexRaw(tag, raw, ref stripNextText);
                    continue;
                }
            }
            _tokens.Add(new Token(kind == '{' ? TokenKind.VarBegin : TokenKind.BlockBegin, kind == '{' ? "{{" : "{%", tag));
            _pos = inner;
            LexExpression(kind == '{', ref stripNextText);
        }
        _tokens.Add(new Token(TokenKind.Eof, "", _src.Length));
    }

    private void LexRaw(int tag, Match raw, ref bool stripNextText)
    {
        int bodyStart = tag + raw.Length;
        if (raw.Groups[1].Value == "-") while (bodyStart < _src.Length && char.IsWhiteSpace(_src[bodyStart])) bodyStart++;
        else if (raw.Groups[1].Value != "+" && bodyStart < _src.Length && _src[bodyStart] == '\n') bodyStart++;
        var end = RawEnd.Match(_src, bodyStart);
        if (!end.Success) throw Error("Missing end of raw directive", tag);
        string body = _src.Substring(bodyStart, end.Index - bodyStart);
        if (end.Groups[1].Value == "-") body = body.TrimEnd();
        else if (end.Groups[1].Value != "+") body = LStripBlock(body, bodyStart);
        if (body.Length > 0) _tokens.Add(new Token(TokenKind.Text, body, bodyStart));
        _pos = end.Index + end.Length;
        stripNextText = end.Groups[2].Value == "-";
        if (end.Groups[2].Value == "") TrimBlockNewline();
    }

    /// <summary>lstrip_blocks: drop spaces and tabs between the start of the line and a block or comment tag.</summary>
    private string LStripBlock(string text, int textOffset)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        bool atLineStart = lineStart > 0 || textOffset == 0 || _src[textOffset - 1] == '\n';
        if (!atLineStart || lineStart == text.Length) return text;
        for (int i = lineStart; i < text.Length; i++)
            if (!char.IsWhiteSpace(text[i])) return text;
        return text.Substring(0, lineStart);
    }

    /// <summary>trim_blocks: the first newline after a block or comment tag is removed.</summary>
    private void TrimBlockNewline()
    {
        if (_pos < _src.Length && _src[_pos] == '\n') _pos++;
    }

    private int FindTagStart(int from)
    {
        while (true)
        {
            int i = _src.IndexOf('{', from);
            if (i < 0 || i + 1 >= _src.Length) return -1;
            char c = _src[i + 1];
            if (c is '{' or '%' or '#') return i;
            from = i + 1;
        }
    }

    private void LexExpression(bool isVariable, ref bool stripNextText)
    {
        int depth = 0;
        int tagStart = _pos;
        while (true)
        {
            while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
            if (_pos >= _src.Length)
                throw Error(isVariable ? "Unexpected end of template, expected '}}'" : "Unexpected end of template, expected '%}'", tagStart);
            char c = _src[_pos];
            if (depth == 0 && TryTagEnd(isVariable, out bool minus, out bool plus))
            {
                _tokens.Add(new Token(isVariable ? TokenKind.VarEnd : TokenKind.BlockEnd, isVariable ? "}}" : "%}", _pos));
                _pos += (minus || plus ? 1 : 0) + 2;
                stripNextText = minus;
                if (!isVariable && !minus && !plus) TrimBlockNewline();
                return;
            }
            int start = _pos;
            if (char.IsLetter(c) || c == '_')
            {
                while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
                _tokens.Add(new Token(TokenKind.Name, _src.Substring(start, _pos - start), start));
            }
            else if (char.IsAsciiDigit(c))
            {
                LexNumber();
            }
            else if (c is '\'' or '"')
            {
                _tokens.Add(new Token(TokenKind.String, LexString(c), start));
            }
            else
            {
                string op = LexOperator();
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
                _tokens.Add(new Token(TokenKind.Op, op, start));
            }
        }
    }

    private bool TryTagEnd(bool isVariable, out bool minus, out bool plus)
    {
        string close = isVariable ? "}}" : "%}";
        minus = plus = false;
        if (string.CompareOrdinal(_src, _pos, close, 0, 2) == 0) return true;
        if ((_src[_pos] == '-' || _src[_pos] == '+') && string.CompareOrdinal(_src, _pos + 1, close, 0, 2) == 0)
        {
            minus = _src[_pos] == '-';
            plus = !minus;
            return true;
        }
        return false;
    }

    private void LexNumber()
    {
        int start = _pos;
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        bool isFloat = false;
        if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        }
        if (_pos < _src.Length && (_src[_pos] is 'e' or 'E'))
        {
            int save = _pos++;
            if (_pos < _src.Length && (_src[_pos] is '+' or '-')) _pos++;
            if (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
            {
                isFloat = true;
                while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos])) _pos++;
            }
            else _pos = save;
        }
        string text = _src.Substring(start, _pos - start).Replace("_", "");
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Int, text, start));
    }

    private static readonly string[] Operators =
        { "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", ";" };

    private string LexOperator()
    {
        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_src, _pos, op, 0, op.Length) == 0)
            {
                _pos += op.Length;
                return op;
            }
        }
        throw Error($"Unexpected character '{_src[_pos]}'", _pos);
    }

    /// <summary>A quoted literal with Python's escape sequences.</summary>
    private string LexString(char quote)
    {
        int start = _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _src.Length) throw Error("Unterminated string literal", start);
            char c = _src[_pos++];
            if (c == quote) return sb.ToString();
            if (c != '\\') { sb.Append(c); continue; }
            if (_pos >= _src.Length) throw Error("Unterminated string literal", start);
            char e = _src[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '\n': break;
                case 'x': sb.Append((char)ParseHex(2, start)); break;
                case 'u': sb.Append((char)ParseHex(4, start)); break;
                case 'U': sb.Append(char.ConvertFromUtf32(ParseHex(8, start))); break;
                case >= '0' and <= '7':
                {
                    int v = e - '0';
                    for (int k = 0; k < 2 && _pos < _src.Length && _src[_pos] is >= '0' and <= '7'; k++) v = v * 8 + (_src[_pos++] - '0');
                    sb.Append((char)v);
                    break;
                }
                default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes verbatim
            }
        }
    }

    private int ParseHex(int digits, int stringStart)
    {
        if (_pos + digits > _src.Length ||
            !int.TryParse(_src.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
            throw Error("Invalid escape sequence in string literal", stringStart);
        _pos += digits;
        return v;
    }
}

internal static class SourcePosition
{
    /// <summary>1-based line and column of a character offset.</summary>
    public static (int Line, int Column) Of(string src, int offset)
    {
        offset = Math.Clamp(offset, 0, src.Length);
        int line = 1, lineStart = 0;
        for (int i = 0; i < offset; i++)
            if (src[i] == '\n') { line++; lineStart = i + 1; }
        return (line, offset - lineStart + 1);
    }
}
