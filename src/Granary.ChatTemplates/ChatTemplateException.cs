namespace Granary.ChatTemplates;

/// <summary>
/// Raised when a chat template cannot be parsed (syntax error, with <see cref="Line"/> and <see cref="Column"/>)
/// or fails while rendering (an undefined value used where Jinja errors, a type error, or the template's own
/// <c>raise_exception(msg)</c>, whose message is kept verbatim).
/// </summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>1-based line in the template source, when known.</summary>
    public int? Line { get; }

    /// <summary>1-based column in the template source, when known.</summary>
    public int? Column { get; }

    /// <summary>Creates an exception with a message and no position.</summary>
    public ChatTemplateException(string message) : base(message) { }

    /// <summary>Creates an exception wrapping another one.</summary>
    public ChatTemplateException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>Creates an exception at a source position.</summary>
    public ChatTemplateException(string message, int? line, int? column, Exception? inner = null) : base(message, inner)
    {
        Line = line;
        Column = column;
    }
}
