namespace LoraService.Deployment.Tests;

/// <summary>
/// One container as a deployment file runs it: where it is declared, the Dockerfile its image comes from, its command,
/// its environment, and what it publishes or probes.
/// </summary>
internal sealed record Container(string Where, Dockerfile Image, IReadOnlyList<string> Command, IReadOnlyDictionary<string, string> Env)
{
    public string? Dll => Command.FirstOrDefault(c => c.EndsWith(".dll", StringComparison.Ordinal));
    public bool RunsApi => Dll?.EndsWith("/LoraService.Api.dll", StringComparison.Ordinal) == true;
    public bool Migrates => RunsApi && Command.Contains(MigrateFlag);
    public bool WaitsForMigrations => RunsApi && Command.Contains(WaitFlag);
    public bool RunsWorker => Dll?.EndsWith("/LoraService.Worker.dll", StringComparison.Ordinal) == true;

    /// <summary>The port the app listens on: ASPNETCORE_URLS from the container's environment, else the image's.</summary>
    public int AppPort => new Uri((Env.GetValueOrDefault("ASPNETCORE_URLS") ?? Image.Env["ASPNETCORE_URLS"]).Split(';')[0].Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port;

    /// <summary>The API's <c>--migrate-only</c> and <c>--wait-for-migrations</c> flags, read from the code.</summary>
    public static string MigrateFlag { get; } = ApiFlag("MigrateFlag");
    public static string WaitFlag { get; } = ApiFlag("WaitFlag");

    private static string ApiFlag(string name) => (string)System.Reflection.Assembly.Load("LoraService.Api")
        .GetType("LoraService.Api.MigrationCommands", throwOnError: true)!.GetField(name)!.GetRawConstantValue()!;
}

/// <summary>The images (by tag) and the containers of docker-compose.yml and deploy/k8s/.</summary>
internal static class Deployments
{
    public static Dockerfile CpuImage { get; } = Dockerfile.Load("Dockerfile");
    public static Dockerfile GpuImage { get; } = Dockerfile.Load("Dockerfile.gpu");
    public static IReadOnlyList<Dockerfile> Images => [CpuImage, GpuImage];

    public static Dictionary<string, object?> Compose { get; } = Yaml.Map(Yaml.Load("docker-compose.yml").Single());

    public static Dictionary<string, object?> ComposeServices => Yaml.Map(Compose["services"]);

    /// <summary>Image tag → the Dockerfile that builds it, as docker-compose.yml's build sections say.</summary>
    public static Dictionary<string, Dockerfile> ImagesByTag { get; } = ComposeServices.Values
        .Where(s => Yaml.At(s, "build", "dockerfile") is string)
        .Select(s => (Tag: (string)Yaml.At(s, "image")!, File: (string)Yaml.At(s, "build", "dockerfile")!))
        .Distinct()
        .ToDictionary(x => x.Tag, x => x.File == "Dockerfile" ? CpuImage : x.File == "Dockerfile.gpu" ? GpuImage : throw new InvalidOperationException($"unknown Dockerfile {x.File}"));

    /// <summary>Compose services that run one of our images (not postgres, prometheus, grafana).</summary>
    public static IEnumerable<(string Name, Dictionary<string, object?> Service, Container Container)> ComposeContainers() =>
        ComposeServices.Where(s => Yaml.At(s.Value, "image") is string tag && ImagesByTag.ContainsKey(tag)).Select(s =>
        {
            var service = Yaml.Map(s.Value);
            var image = ImagesByTag[(string)service["image"]!];
            var command = Yaml.List(service.GetValueOrDefault("command")).Cast<string>().ToList();
            var env = Yaml.Map(service.GetValueOrDefault("environment")).ToDictionary(e => e.Key, e => e.Value as string ?? "");
            return (s.Key, service, new Container($"docker-compose.yml service {s.Key}", image, command.Count > 0 ? command : image.Cmd, env));
        });

    public static List<(string File, Dictionary<string, object?> Document)> K8s { get; } =
        Directory.GetFiles(Repo.File("deploy/k8s"), "*.yaml").Order(StringComparer.Ordinal)
            .SelectMany(f => Yaml.Load(Path.GetRelativePath(Repo.Root, f)).Select(d => (Path.GetRelativePath(Repo.Root, f), Yaml.Map(d))))
            .ToList();

    public static Dictionary<string, object?> PodSpec(Dictionary<string, object?> workload) => Yaml.Map(Yaml.At(workload, "spec", "template", "spec"));

    /// <summary>Containers (init containers included) of Deployments and Jobs.</summary>
    public static IEnumerable<(string File, Dictionary<string, object?> Workload, Dictionary<string, object?> Spec, Container Container)> K8sContainers() =>
        K8s.Where(d => (string?)d.Document.GetValueOrDefault("kind") is "Deployment" or "Job").SelectMany(d =>
        {
            var pod = PodSpec(d.Document);
            return Yaml.List(pod.GetValueOrDefault("initContainers")).Concat(Yaml.List(pod.GetValueOrDefault("containers"))).Select(c =>
            {
                var spec = Yaml.Map(c);
                var tag = (string)spec["image"]!;
                var image = ImagesByTag.TryGetValue(tag, out var known) ? known : throw new InvalidOperationException($"{d.Item1}: image {tag} is built by no Dockerfile in docker-compose.yml");
                var command = Yaml.List(spec.GetValueOrDefault("command")).Cast<string>().ToList();
                var env = Yaml.List(spec.GetValueOrDefault("env")).Select(Yaml.Map)
                    .ToDictionary(e => (string)e["name"]!, e => e.GetValueOrDefault("value") as string ?? "(from a secret)");
                return (d.File, d.Document, spec, new Container($"{d.File} {Yaml.At(d.Document, "metadata", "name")}/{spec["name"]}", image, command.Count > 0 ? command : image.Cmd, env));
            });
        });
}
