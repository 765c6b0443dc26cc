using System.Globalization;

namespace Granary.ChatTemplates.Jinja;

/// <summary>Recursive-descent parser from tokens to the template AST, following Jinja2's grammar and precedence.</summary>
internal sealed class Parser
{
    private readonly string _src;
    private readonly List<Token> _tokens;
    private int _i;

    private Parser(string src, List<Token> tokens)
    {
        _src = src;
        _tokens = tokens;
    }

    public static List<Node> Parse(string source)
    {
        var p = new Parser(source, Lexer.Tokenize(source));
        var body = p.ParseBody(Array.Empty<string>(), out _);
        return body;
    }

    // Bounds recursion so hostile input gets an error, not a stack overflow.
    private const int MaxNesting = 200;
    private int _nesting;

    private void Enter(int offset)
    {
        if (++_nesting > MaxNesting) throw Error($"Template nesting deeper than {MaxNesting} levels", offset);
    }

    private Token Cur => _tokens[_i];
    private Token Peek(int k = 1) => _tokens[Math.Min(_i + k, _tokens.Count - 1)];
    private Token Next() => _tokens[_i++];

    private ChatTemplateException Error(string message, int offset)
    {
        var (line, col) = SourcePosition.Of(_src, offset);
        return new ChatTemplateException($"{message} (line {line}, column {col})", line, col);
    }

    private bool IsOp(string op) => Cur.Kind == TokenKind.Op && Cur.Value == op;
    private bool IsName(string name) => Cur.Kind == TokenKind.Name && Cur.Value == name;

    private bool SkipOp(string op)
    {
        if (!IsOp(op)) return false;
        _i++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!IsName(name)) return false;
        _i++;
        return true;
    }

    private void ExpectOp(string op)
    {
        if (!SkipOp(op)) throw Error($"Expected '{op}', got {Cur}", Cur.Offset);
    }

    private void ExpectName(string name)
    {
        if (!SkipName(name)) throw Error($"Expected '{name}', got {Cur}", Cur.Offset);
    }

    private string ExpectIdentifier()
    {
        if (Cur.Kind != TokenKind.Name) throw Error($"Expected a name, got {Cur}", Cur.Offset);
        return Next().Value;
    }

    private void ExpectBlockEnd()
    {
        if (Cur.Kind != TokenKind.BlockEnd) throw Error($"Expected end of statement block '%}}', got {Cur}", Cur.Offset);
        _i++;
    }

    /// <summary>Parses nodes until a block tag named in <paramref name="endTags"/>; returns with that tag's name consumed.</summary>
    private List<Node> ParseBody(IReadOnlyCollection<string> endTags, out string endTag, int openOffset = 0, string? openTag = null)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var t = Cur;
            switch (t.Kind)
            {
                case TokenKind.Eof:
                    if (endTags.Count == 0)
                    {
                        endTag = "";
                        return nodes;
                    }
                    throw Error($"Unexpected end of template: '{openTag}' block was never closed, expected {string.Join(" or ", endTags.Select(e => $"'{e}'"))}", openOffset);
                case TokenKind.Text:
                    _i++;
                    nodes.Add(new TextNode(t.Value, t.Offset));
                    break;
                case TokenKind.VarBegin:
                    _i++;
                    var e = ParseTupleOrExpression();
                    if (Cur.Kind != TokenKind.VarEnd) throw Error($"Expected end of print statement '}}}}', got {Cur}", Cur.Offset);
                    _i++;
                    nodes.Add(new OutputNode(e, t.Offset));
                    break;
                case TokenKind.BlockBegin:
                    _i++;
                    if (Cur.Kind != TokenKind.Name) throw Error($"Expected a statement name, got {Cur}", Cur.Offset);
                    if (endTags.Contains(Cur.Value))
                    {
                        endTag = Next().Value;
                        return nodes;
                    }
                    nodes.Add(ParseStatement(t.Offset, openTag));
                    break;
                default:
                    throw Error($"Unexpected {t}", t.Offset);
            }
        }
    }

    private Node ParseStatement(int offset, string? enclosing)
    {
        Enter(offset);
        try
        {
            return ParseStatementCore(offset, enclosing);
        }
        finally
        {
            _nesting--;
        }
    }

    private Node ParseStatementCore(int offset, string? enclosing)
    {
        var name = Cur;
        string kw = Next().Value;
        switch (kw)
        {
            case "if": return ParseIf(offset);
            case "for": return ParseFor(offset);
            case "set": return ParseSet(offset);
            case "macro": return ParseMacro(offset);
            case "call": return ParseCallBlock(offset);
            case "filter": return ParseFilterBlock(offset);
            case "break":
                ExpectBlockEnd();
                return new BreakNode(offset);
            case "continue":
                ExpectBlockEnd();
                return new ContinueNode(offset);
            case "generation":
            {
                // transformers' AssistantTracker tag: only marks assistant text, renders its body unchanged.
                ExpectBlockEnd();
                var body = ParseBody(new[] { "endgeneration" }, out _, offset, "generation");
                ExpectBlockEnd();
                return new IfNode(new() { (new LiteralExpr(true, offset), body) }, null, offset);
            }
            case "elif" or "else" or "endif" or "endfor" or "endset" or "endmacro" or "endcall" or "endfilter" or "endgeneration":
                throw Error(enclosing is null
                    ? $"Encountered unknown tag '{kw}'."
                    : $"Encountered unknown tag '{kw}'. The innermost block that needs to be closed is '{enclosing}'.", name.Offset);
            default:
                throw Error($"Encountered unknown tag '{kw}'.", name.Offset);
        }
    }

    private Node ParseIf(int offset)
    {
        var branches = new List<(Expr, List<Node>)>();
        List<Node>? elseBody = null;
        var test = ParseTupleOrExpression();
        ExpectBlockEnd();
        while (true)
        {
            var body = ParseBody(new[] { "elif", "else", "endif" }, out string end, offset, "if");
            branches.Add((test, body));
            if (end == "elif")
            {
                test = ParseTupleOrExpression();
                ExpectBlockEnd();
                continue;
            }
            if (end == "else")
            {
                ExpectBlockEnd();
                elseBody = ParseBody(new[] { "endif" }, out _, offset, "if");
            }
            ExpectBlockEnd();
            return new IfNode(branches, elseBody, offset);
        }
    }

    private Node ParseFor(int offset)
    {
        var target = ParseAssignTarget(allowAttribute: false);
        ExpectName("in");
        var iter = ParseTupleOrExpression(withCondExpr: false);
        Expr? filter = null;
        if (SkipName("if")) filter = ParseTupleOrExpression();
        bool recursive = SkipName("recursive");
        ExpectBlockEnd();
        var body = ParseBody(new[] { "endfor", "else" }, out string end, offset, "for");
        List<Node>? elseBody = null;
        if (end == "else")
        {
            ExpectBlockEnd();
            elseBody = ParseBody(new[] { "endfor" }, out _, offset, "for");
        }
        ExpectBlockEnd();
        return new ForNode(target, iter, filter, body, elseBody, recursive, offset);
    }

    private Node ParseSet(int offset)
    {
        var target = ParseAssignTarget(allowAttribute: true);
        if (SkipOp("="))
        {
            var value = ParseTupleOrExpression();
            ExpectBlockEnd();
            return new SetNode(target, value, offset);
        }
        ExpectBlockEnd();
        var body = ParseBody(new[] { "endset" }, out _, offset, "set");
        ExpectBlockEnd();
        return new SetBlockNode(target, body, offset);
    }

    private Expr ParseAssignTarget(bool allowAttribute)
    {
        var items = new List<Expr>();
        int offset = Cur.Offset;
        bool parenthesized = SkipOp("(");
        while (true)
        {
            int o = Cur.Offset;
            string n = ExpectIdentifier();
            if (n is "true" or "false" or "none" or "True" or "False" or "None")
                throw Error($"Can't assign to '{n}'", o);
            Expr e = new NameExpr(n, o);
            if (allowAttribute && SkipOp("."))
                e = new GetAttrExpr(e, ExpectIdentifier(), o);
            items.Add(e);
            if (!SkipOp(",")) break;
            if (Cur.Kind != TokenKind.Name) break;
        }
        if (parenthesized) ExpectOp(")");
        return items.Count == 1 && !parenthesized ? items[0] : new TupleExpr(items, offset);
    }

    private List<(string, Expr?)> ParseSignature()
    {
        var ps = new List<(string, Expr?)>();
        ExpectOp("(");
        while (!IsOp(")"))
        {
            if (ps.Count > 0) ExpectOp(",");
            if (IsOp(")")) break;
            string n = ExpectIdentifier();
            Expr? def = SkipOp("=") ? ParseExpression() : null;
            ps.Add((n, def));
        }
        ExpectOp(")");
        return ps;
    }

    private Node ParseMacro(int offset)
    {
        string name = ExpectIdentifier();
        var ps = ParseSignature();
        ExpectBlockEnd();
        var body = ParseBody(new[] { "endmacro" }, out _, offset, "macro");
        ExpectBlockEnd();
        return new MacroNode(name, ps, body, offset);
    }

    private Node ParseCallBlock(int offset)
    {
        var ps = IsOp("(") ? ParseSignature() : new List<(string, Expr?)>();
        var call = ParseExpression();
        if (call is not CallExpr ce) throw Error("Expected a call expression in 'call' block", call.Offset);
        ExpectBlockEnd();
        var body = ParseBody(new[] { "endcall" }, out _, offset, "call");
        ExpectBlockEnd();
        return new CallBlockNode(ce, ps, body, offset);
    }

    private Node ParseFilterBlock(int offset)
    {
        int nameOffset = Cur.Offset;
        string name = ExpectIdentifier();
        if (!Filters.Names.Contains(name)) throw Error($"No filter named '{name}'.", nameOffset);
        var (args, kwargs) = IsOp("(") ? ParseCallArgs() : (new List<Expr>(), new List<(string, Expr)>());
        ExpectBlockEnd();
        var body = ParseBody(new[] { "endfilter" }, out _, offset, "filter");
        ExpectBlockEnd();
        return new FilterBlockNode(name, args, kwargs, body, offset);
    }

    // ---------------------------------------------------------------- expressions

    private Expr ParseTupleOrExpression(bool withCondExpr = true)
    {
        int offset = Cur.Offset;
        var first = withCondExpr ? ParseExpression() : ParseOr();
        if (!IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (SkipOp(","))
        {
            if (Cur.Kind is TokenKind.BlockEnd or TokenKind.VarEnd || IsName("if") || IsName("in")) break;
            items.Add(withCondExpr ? ParseExpression() : ParseOr());
        }
        return new TupleExpr(items, offset);
    }

    public Expr ParseExpression()
    {
        Enter(Cur.Offset);
        try
        {
            return ParseExpressionCore();
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParseExpressionCore()
    {
        var e = ParseOr();
        while (IsName("if"))
        {
            int offset = Next().Offset;
            var test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            e = new ConditionalExpr(test, e, otherwise, offset);
        }
        return e;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            int o = Next().Offset;
            left = new BinaryExpr("or", left, ParseAnd(), o);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            int o = Next().Offset;
            left = new BinaryExpr("and", left, ParseNot(), o);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            int o = Next().Offset;
            Enter(o);
            var operand = ParseNot();
            _nesting--;
            return new UnaryExpr("not", operand, o);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        int offset = Cur.Offset;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Cur.Kind == TokenKind.Op && Cur.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                string op = Next().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (IsName("in"))
            {
                _i++;
                rest.Add(("in", ParseMath1()));
            }
            else if (IsName("not") && Peek().Kind == TokenKind.Name && Peek().Value == "in")
            {
                _i += 2;
                rest.Add(("notin", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, offset);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Cur.Kind == TokenKind.Op && Cur.Value is "+" or "-")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParseConcat(), t.Offset);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (IsOp("~"))
        {
            var t = Next();
            left = new BinaryExpr("~", left, ParseMath2(), t.Offset);
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Cur.Kind == TokenKind.Op && Cur.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParsePow(), t.Offset);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(true);
        while (IsOp("**"))
        {
            var t = Next();
            left = new BinaryExpr("**", left, ParseUnary(true), t.Offset);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Expr node;
        if (IsOp("-") || IsOp("+"))
        {
            var t = Next();
            Enter(t.Offset);
            node = new UnaryExpr(t.Value, ParseUnary(false), t.Offset);
            _nesting--;
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterExpr(node);
        return node;
    }

    private Expr ParsePrimary()
    {
        var t = Cur;
        switch (t.Kind)
        {
            case TokenKind.Name:
                _i++;
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Offset),
                    "false" or "False" => new LiteralExpr(false, t.Offset),
                    "none" or "None" => new LiteralExpr(null, t.Offset),
                    _ => new NameExpr(t.Value, t.Offset),
                };
            case TokenKind.String:
            {
                _i++;
                string s = t.Value;
                while (Cur.Kind == TokenKind.String) s += Next().Value; // adjacent literals concatenate
                return new LiteralExpr(s, t.Offset);
            }
            case TokenKind.Int:
                _i++;
                if (!long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l))
                    throw Error($"Integer literal {t.Value} is too large", t.Offset);
                return new LiteralExpr(l, t.Offset);
            case TokenKind.Float:
                _i++;
                return new LiteralExpr(double.Parse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture), t.Offset);
            case TokenKind.Op when t.Value == "(":
            {
                _i++;
                if (SkipOp(")")) return new TupleExpr(new List<Expr>(), t.Offset);
                var first = ParseExpression();
                if (SkipOp(")")) return first;
                var items = new List<Expr> { first };
                while (SkipOp(","))
                {
                    if (IsOp(")")) break;
                    items.Add(ParseExpression());
                }
                ExpectOp(")");
                return new TupleExpr(items, t.Offset);
            }
            case TokenKind.Op when t.Value == "[":
            {
                _i++;
                var items = new List<Expr>();
                while (!IsOp("]"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (IsOp("]")) break;
                    items.Add(ParseExpression());
                }
                ExpectOp("]");
                return new ListExpr(items, t.Offset);
            }
            case TokenKind.Op when t.Value == "{":
            {
                _i++;
                var items = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (IsOp("}")) break;
                    var k = ParseExpression();
                    ExpectOp(":");
                    items.Add((k, ParseExpression()));
                }
                ExpectOp("}");
                return new DictExpr(items, t.Offset);
            }
            default:
                throw Error(t.Kind is TokenKind.VarEnd or TokenKind.BlockEnd or TokenKind.Eof
                    ? $"Expected an expression, got {t}"
                    : $"Unexpected {t}", t.Offset);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Cur;
            if (IsOp("."))
            {
                _i++;
                if (Cur.Kind == TokenKind.Name) node = new GetAttrExpr(node, Next().Value, t.Offset);
                else if (Cur.Kind == TokenKind.Int) node = new GetItemExpr(node, new LiteralExpr(long.Parse(Next().Value, CultureInfo.InvariantCulture), t.Offset), t.Offset);
                else throw Error($"Expected an attribute name after '.', got {Cur}", Cur.Offset);
            }
            else if (IsOp("["))
            {
                _i++;
                node = ParseSubscript(node, t.Offset);
            }
            else if (IsOp("("))
            {
                var (args, kwargs) = ParseCallArgs();
                node = new CallExpr(node, args, kwargs, t.Offset);
            }
            else return node;
        }
    }

    private Expr ParseSubscript(Expr target, int offset)
    {
        Expr? start = null, stop = null, step = null;
        if (!IsOp(":")) start = ParseExpression();
        if (SkipOp("]"))
        {
            if (start is null) throw Error("Expected a subscript expression", offset);
            return new GetItemExpr(target, start, offset);
        }
        if (IsOp(","))
        {
            // m[a, b] indexes with a tuple
            var items = new List<Expr> { start! };
            while (SkipOp(",")) { if (IsOp("]")) break; items.Add(ParseExpression()); }
            ExpectOp("]");
            return new GetItemExpr(target, new TupleExpr(items, offset), offset);
        }
        ExpectOp(":");
        if (!IsOp(":") && !IsOp("]")) stop = ParseExpression();
        if (SkipOp(":") && !IsOp("]")) step = ParseExpression();
        ExpectOp("]");
        return new SliceExpr(target, start, stop, step, offset);
    }

    private (List<Expr>, List<(string, Expr)>) ParseCallArgs()
    {
        ExpectOp("(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        bool first = true;
        while (!IsOp(")"))
        {
            if (!first) ExpectOp(",");
            first = false;
            if (IsOp(")")) break;
            if (Cur.Kind == TokenKind.Name && Peek().Kind == TokenKind.Op && Peek().Value == "=")
            {
                string n = Next().Value;
                _i++;
                kwargs.Add((n, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw Error("Positional argument follows keyword argument", Cur.Offset);
                args.Add(ParseExpression());
            }
        }
        ExpectOp(")");
        return (args, kwargs);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (IsOp("|"))
            {
                int o = Next().Offset;
                string name = ExpectIdentifier();
                while (IsOp(".") && Peek().Kind == TokenKind.Name) { _i++; name += "." + Next().Value; }
                // Like Jinja, an unknown filter is a compile-time error even where it would never run.
                if (!Filters.Names.Contains(name)) throw Error($"No filter named '{name}'.", o);
                var (args, kwargs) = IsOp("(") ? ParseCallArgs() : (new List<Expr>(), new List<(string, Expr)>());
                node = new FilterExpr(node, name, args, kwargs, o);
            }
            else if (IsName("is"))
            {
                int o = Next().Offset;
                bool negated = SkipName("not");
                int nameOffset = Cur.Offset;
                string name = ExpectIdentifier();
                if (!TestFunctions.Names.Contains(name)) throw Error($"No test named '{name}'.", nameOffset);
                var args = new List<Expr>();
                if (IsOp("("))
                {
                    var (a, kw) = ParseCallArgs();
                    args = a;
                    args.AddRange(kw.Select(k => k.Item2));
                }
                else if ((Cur.Kind is TokenKind.String or TokenKind.Int or TokenKind.Float || IsOp("[") || IsOp("{") ||
                          (Cur.Kind == TokenKind.Name && Cur.Value is not ("else" or "or" or "and" or "if" or "is" or "in" or "not"))))
                {
                    // Jinja allows one bare argument: `x is divisibleby 3`, `x is sameas none`
                    args.Add(ParsePostfix(ParsePrimary()));
                }
                node = new TestExpr(node, name, args, negated, o);
            }
            else if (IsOp("("))
            {
                var (args, kwargs) = ParseCallArgs();
                node = new CallExpr(node, args, kwargs, node.Offset);
            }
            else return node;
        }
    }
}
