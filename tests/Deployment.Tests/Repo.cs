namespace LoraService.Deployment.Tests;

/// <summary>The repository checkout the tests run from (found by walking up to LoraService.sln).</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string File(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => System.IO.File.ReadAllText(File(relative));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "LoraService.sln"))) return dir.FullName;
        throw new InvalidOperationException("LoraService.sln not found above " + AppContext.BaseDirectory);
    }
}
