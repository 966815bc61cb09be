[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Unicorn.Core.Tests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("unicorn")]
