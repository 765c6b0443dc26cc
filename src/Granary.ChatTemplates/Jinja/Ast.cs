namespace Granary.ChatTemplates.Jinja;

// Template AST. Offset is the source offset used for error positions.

internal abstract record Node(int Offset);
internal sealed record TextNode(string Text, int Offset) : Node(Offset);
internal sealed record OutputNode(Expr Value, int Offset) : Node(Offset);
internal sealed record IfNode(List<(Expr Test, List<Node> Body)> Branches, List<Node>? Else, int Offset) : Node(Offset);
internal sealed record ForNode(Expr Target, Expr Iter, Expr? Filter, List<Node> Body, List<Node>? Else, bool Recursive, int Offset) : Node(Offset);
internal sealed record SetNode(Expr Target, Expr Value, int Offset) : Node(Offset);
internal sealed record SetBlockNode(Expr Target, List<Node> Body, int Offset) : Node(Offset);
internal sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Params, List<Node> Body, int Offset) : Node(Offset);
internal sealed record CallBlockNode(CallExpr Call, List<(string Name, Expr? Default)> Params, List<Node> Body, int Offset) : Node(Offset);
internal sealed record FilterBlockNode(string Filter, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, List<Node> Body, int Offset) : Node(Offset);
internal sealed record BreakNode(int Offset) : Node(Offset);
internal sealed record ContinueNode(int Offset) : Node(Offset);

internal abstract record Expr(int Offset);
internal sealed record LiteralExpr(object? Value, int Offset) : Expr(Offset);
internal sealed record NameExpr(string Name, int Offset) : Expr(Offset);
internal sealed record ListExpr(List<Expr> Items, int Offset) : Expr(Offset);
internal sealed record TupleExpr(List<Expr> Items, int Offset) : Expr(Offset);
internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Offset) : Expr(Offset);
internal sealed record GetAttrExpr(Expr Target, string Name, int Offset) : Expr(Offset);
internal sealed record GetItemExpr(Expr Target, Expr Key, int Offset) : Expr(Offset);
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Offset) : Expr(Offset);
internal sealed record CallExpr(Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Offset) : Expr(Offset);
internal sealed record FilterExpr(Expr Target, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Offset) : Expr(Offset);
internal sealed record TestExpr(Expr Target, string Name, List<Expr> Args, bool Negated, int Offset) : Expr(Offset);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Offset) : Expr(Offset);
internal sealed record UnaryExpr(string Op, Expr Operand, int Offset) : Expr(Offset);
internal sealed record CompareExpr(Expr First, List<(string Op, Expr Operand)> Rest, int Offset) : Expr(Offset);
internal sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Else, int Offset) : Expr(Offset);
