using System.Text;
using Unicorn.Native;

namespace Unicorn.Oci;

/// <summary>stdout and stderr written straight to fds 1 and 2: Console would set up the
/// terminal (a thread, a pipe, signal handlers) first, a good part of a `state` call.</summary>
static class Output
{
    public static void Out(string text) => Libc.WriteAll(1, Encoding.UTF8.GetBytes(text));

    /// <summary>An error line; a stderr that is gone loses it (the exit code still tells).</summary>
    public static void Error(string text)
    {
        try { Libc.WriteAll(2, Encoding.UTF8.GetBytes(text)); }
        catch (NativeException) { }
    }
}
