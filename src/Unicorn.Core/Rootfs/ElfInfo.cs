using System.Buffers.Binary;
using System.Text;

namespace Unicorn;

/// <summary>Just enough of ELF to copy a dynamically linked program into a rootfs: its
/// interpreter (PT_INTERP) and the libraries it names (DT_NEEDED).</summary>
public sealed record ElfInfo(string? Interpreter, IReadOnlyList<string> Needed)
{
    const uint PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3;
    const long DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5;

    /// <summary>Null if the file is not a 64-bit little-endian ELF file.</summary>
    public static ElfInfo? Read(string path)
    {
        byte[] f;
        try { f = File.ReadAllBytes(path); }
        catch (IOException) { return null; }
        if (f.Length < 64 || f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' || f[3] != 'F' || f[4] != 2 || f[5] != 1)
            return null;

        ulong U64(long at) => BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan((int)at));
        uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan((int)at));
        string Str(long at) => Encoding.UTF8.GetString(f, (int)at, Array.IndexOf(f, (byte)0, (int)at) - (int)at);

        long phoff = (long)U64(0x20);
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(0x36));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(0x38));
        string? interp = null;
        long dynOff = -1, dynSize = 0;
        var loads = new List<(ulong Vaddr, ulong Offset, ulong Size)>();
        for (int i = 0; i < phnum; i++)
        {
            long ph = phoff + i * phentsize;
            uint type = U32(ph);
            ulong offset = U64(ph + 8), vaddr = U64(ph + 16), filesz = U64(ph + 32);
            if (type == PT_INTERP)
                interp = Str((long)offset);
            else if (type == PT_DYNAMIC)
                (dynOff, dynSize) = ((long)offset, (long)filesz);
            else if (type == PT_LOAD)
                loads.Add((vaddr, offset, filesz));
        }
        if (dynOff < 0)
            return new ElfInfo(interp, []);

        // The dynamic section names strings by offset into DT_STRTAB, a virtual address.
        var needed = new List<long>();
        long strtab = -1;
        for (long d = dynOff; d + 16 <= dynOff + dynSize; d += 16)
        {
            long tag = (long)U64(d);
            ulong val = U64(d + 8);
            if (tag == DT_NULL)
                break;
            if (tag == DT_NEEDED)
                needed.Add((long)val);
            else if (tag == DT_STRTAB)
                strtab = loads.Where(l => val >= l.Vaddr && val < l.Vaddr + l.Size)
                              .Select(l => (long)(val - l.Vaddr + l.Offset)).DefaultIfEmpty(-1).First();
        }
        return new ElfInfo(interp, strtab < 0 ? [] : needed.Select(n => Str(strtab + n)).ToList());
    }
}
