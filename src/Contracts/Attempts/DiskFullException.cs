namespace LoraService.Contracts.Attempts;

/// <summary>
/// A write ran out of space: the device is full (ENOSPC) or the user's quota is spent (EDQUOT). The message says what
/// was being written, e.g. "no space left on device while writing checkpoint step 2 to /data/…". An attempt that ends
/// with it reports <see cref="Code"/>.
/// </summary>
public sealed class DiskFullException(string message, Exception inner) : IOException(message, inner)
{
    public const string Code = "disk_full";

    // Linux errno values, which .NET puts in IOException.HResult on Unix; Windows' ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL.
    private const int Enospc = 28, Edquot = 122, ErrorDiskFull = unchecked((int)0x80070070), ErrorHandleDiskFull = unchecked((int)0x80070027);

    /// <summary>True when <paramref name="e"/> or one of its inner exceptions is the operating system reporting a full disk or quota.</summary>
    public static bool IsDiskFull(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is DiskFullException || x is IOException { HResult: Enospc or Edquot or ErrorDiskFull or ErrorHandleDiskFull })
                return true;
        return false;
    }
}
