using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Images;

/// <summary>A layer to import: where its blob is in the archive, what it must hash to.</summary>
sealed record LayerPlan(string Path, string? BlobDigest, string DiffId);
