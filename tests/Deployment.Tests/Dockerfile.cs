using System.Text.Json;
using System.Text.RegularExpressions;

namespace LoraService.Deployment.Tests;

/// <summary>
/// What a Dockerfile's final stage gives a container: its ENV, EXPOSEd ports, USER, HEALTHCHECK and CMD, and the DLLs
/// it holds (each <c>dotnet publish PROJECT -o DIR</c> of the build stage, mapped through <c>COPY --from=build</c>).
/// </summary>
internal sealed partial class Dockerfile
{
    public required string Name { get; init; }
    public Dictionary<string, string> Env { get; } = new(StringComparer.Ordinal);
    public List<int> Exposed { get; } = [];
    public string? User { get; private set; }
    public string? HealthCheck { get; private set; }
    public List<string> Cmd { get; private set; } = [];
    /// <summary>Path in the image → project file that publishes it.</summary>
    public Dictionary<string, string> Dlls { get; } = new(StringComparer.Ordinal);

    public static Dockerfile Load(string relative)
    {
        var file = new Dockerfile { Name = relative };
        var published = new Dictionary<string, string>(StringComparer.Ordinal); // publish dir → project
        var lines = Regex.Replace(Repo.Read(relative), @"\\\r?\n", " ").Split('\n')
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));
        var final = false;
        foreach (var line in lines)
        {
            var (instruction, rest) = (line.Split(' ', 2)[0].ToUpperInvariant(), line.Split(' ', 2).ElementAtOrDefault(1) ?? "");
            switch (instruction)
            {
                case "FROM":
                    final = Regex.IsMatch(rest, @"\bAS\s+runtime\b", RegexOptions.IgnoreCase);
                    break;
                case "RUN" when !final:
                    foreach (Match m in PublishCommand().Matches(rest)) published[m.Groups["out"].Value] = m.Groups["project"].Value;
                    break;
                case "COPY" when final && CopyFromBuild().Match(rest) is { Success: true } copy:
                    foreach (var (dir, project) in published)
                    {
                        if (!dir.StartsWith(copy.Groups["src"].Value, StringComparison.Ordinal)) continue;
                        var inImage = copy.Groups["dst"].Value + dir[copy.Groups["src"].Value.Length..];
                        file.Dlls[$"{inImage}/{AssemblyName(project)}.dll"] = project;
                    }
                    break;
                case "ENV" when final:
                    foreach (Match m in EnvPair().Matches(rest)) file.Env[m.Groups["key"].Value] = m.Groups["value"].Value;
                    break;
                case "EXPOSE" when final:
                    file.Exposed.AddRange(rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture)));
                    break;
                case "USER" when final:
                    file.User = rest.Trim();
                    break;
                case "HEALTHCHECK" when final:
                    file.HealthCheck = rest;
                    break;
                case "CMD" when final:
                    file.Cmd = JsonSerializer.Deserialize<List<string>>(rest) ?? [];
                    break;
            }
        }
        return file;
    }

    /// <summary>The assembly a project folder builds: its csproj's AssemblyName, else the project file's name.</summary>
    private static string AssemblyName(string projectDirectory)
    {
        var project = Directory.GetFiles(Repo.File(projectDirectory), "*.csproj").Single();
        var name = Regex.Match(File.ReadAllText(project), "<AssemblyName>([^<]+)</AssemblyName>");
        return name.Success ? name.Groups[1].Value : Path.GetFileNameWithoutExtension(project);
    }

    [GeneratedRegex(@"dotnet publish (?<project>\S+)[^&]*?-o (?<out>\S+)")]
    private static partial Regex PublishCommand();

    [GeneratedRegex(@"--from=build\s+(?<src>\S+)\s+(?<dst>\S+)")]
    private static partial Regex CopyFromBuild();

    [GeneratedRegex(@"(?<key>[A-Za-z_][A-Za-z0-9_]*)=(?<value>\S+)")]
    private static partial Regex EnvPair();
}
