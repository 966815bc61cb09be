namespace Unicorn;

/// <summary>What kind of failure; the names match PowerShell's ErrorCategory, which the
/// engine does not reference. Written as its name by ConvertTo-Json.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
public enum ErrorKind
{
    NotSpecified,
    InvalidArgument,
    InvalidOperation,
    ObjectNotFound,
    ResourceBusy,
    ResourceExists,
    ResourceUnavailable,
    PermissionDenied,
    NotInstalled,
    NotImplemented,
    OperationStopped,
    WriteError,
    LimitsExceeded,
    SecurityError,
    ReadError,
}
