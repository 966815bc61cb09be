using System.Text;

namespace Unicorn;

/// <summary>Writes the launcher's spec: NUL-terminated strings, each key followed by its
/// values (src/launcher/README.md).</summary>
public sealed class SpecFile
{
    readonly MemoryStream _bytes = new();

    public SpecFile Add(string key, params string[] values)
    {
        foreach (var s in values.Prepend(key))
        {
            _bytes.Write(Encoding.UTF8.GetBytes(s));
            _bytes.WriteByte(0);
        }
        return this;
    }

    public byte[] ToArray() => _bytes.ToArray();

    public static byte[] For(ContainerConfig c, IEnumerable<VolumeMount> binds)
    {
        var spec = new SpecFile().Add("rootfs", c.RootfsPath).Add("hostname", c.Hostname).Add("cwd", c.WorkingDirectory);
        foreach (var a in c.Command)
            spec.Add("arg", a);
        foreach (var e in c.Environment)
            spec.Add("env", e);
        foreach (var v in binds)
            spec.Add("bind", v.Source, v.Destination, v.ReadOnly ? "ro" : "rw");
        return spec.ToArray();
    }
}
