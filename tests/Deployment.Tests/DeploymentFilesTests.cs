extern alias worker;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using LoraService.ServiceDefaults;
using LoraService.ServiceDefaults.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using WorkerOptions = worker::LoraService.Worker.WorkerOptions;

namespace LoraService.Deployment.Tests;

/// <summary>
/// Dockerfile, Dockerfile.gpu, docker-compose.yml and deploy/ cannot be built or run here (no Docker engine, no
/// cluster): these tests parse them and hold every setting, port, path, command, grace period and user to the code,
/// so they cannot drift from it silently. Each test lists every violation it finds.
/// </summary>
public sealed partial class DeploymentFilesTests
{
    private static void NoViolations(List<string> violations) => Assert.True(violations.Count == 0, string.Join("\n", violations));

    private static IEnumerable<Container> AllContainers() =>
        Deployments.ComposeContainers().Select(c => c.Container).Concat(Deployments.K8sContainers().Select(c => c.Container));

    [Fact]
    public void Every_environment_variable_set_for_our_hosts_is_a_setting_the_code_reads()
    {
        var violations = new List<string>();
        foreach (var image in Deployments.Images)
            violations.AddRange(image.Env.Keys.Select(ConfigurationKeys.Problem).OfType<string>().Select(p => $"{image.Name} ENV {p}"));
        foreach (var container in AllContainers())
            violations.AddRange(container.Env.Keys.Select(ConfigurationKeys.Problem).OfType<string>().Select(p => $"{container.Where}: {p}"));
        NoViolations(violations);
        Assert.Contains("Lora__MigrateOnStartup", Deployments.ComposeContainers().SelectMany(c => c.Container.Env.Keys)); // the check saw the compose file
    }

    [Fact]
    public void Ports_and_urls_match_the_port_the_apps_listen_on()
    {
        var violations = new List<string>();
        foreach (var image in Deployments.Images)
        {
            var port = new Container(image.Name, image, image.Cmd, new Dictionary<string, string>()).AppPort;
            if (!image.Exposed.SequenceEqual([port])) violations.Add($"{image.Name}: EXPOSE {string.Join(' ', image.Exposed)}, the app listens on {port}");
            foreach (var url in Urls(image.HealthCheck ?? "")) CheckUrl(violations, $"{image.Name} HEALTHCHECK", url, port, HealthPaths);
        }

        var composePorts = Deployments.ComposeContainers().ToDictionary(c => c.Name, c => c.Container.AppPort);
        foreach (var (name, service, container) in Deployments.ComposeContainers())
        {
            foreach (var mapping in Yaml.List(service.GetValueOrDefault("ports")).Cast<string>())
                if (int.Parse(mapping.Split(':')[^1], CultureInfo.InvariantCulture) != container.AppPort)
                    violations.Add($"{container.Where}: publishes {mapping}, the app listens on {container.AppPort}");
            var test = Yaml.List(Yaml.At(service, "healthcheck", "test")).Cast<string>();
            foreach (var url in test.SelectMany(Urls)) CheckUrl(violations, $"{container.Where} healthcheck", url, container.AppPort, HealthPaths);
        }

        var services = Deployments.K8s.Where(d => (string?)d.Document.GetValueOrDefault("kind") == "Service").ToList();
        var podPorts = Deployments.K8sContainers().Where(c => Yaml.List(Deployments.PodSpec(c.Workload).GetValueOrDefault("containers")).Contains(c.Spec))
            .ToDictionary(c => (string)Yaml.At(c.Workload, "spec", "template", "metadata", "labels", "app")!, c => c.Container.AppPort);
        foreach (var (file, workload, spec, container) in Deployments.K8sContainers())
        {
            foreach (var port in Yaml.List(spec.GetValueOrDefault("ports")).Select(p => Yaml.At(p, "containerPort")))
                if (port as string != container.AppPort.ToString(CultureInfo.InvariantCulture))
                    violations.Add($"{container.Where}: containerPort {port}, the app listens on {container.AppPort}");
            foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
            {
                if (Yaml.At(spec, probe, "httpGet") is not Dictionary<string, object?> get) continue;
                if (get.GetValueOrDefault("port") as string != container.AppPort.ToString(CultureInfo.InvariantCulture))
                    violations.Add($"{container.Where}: {probe} port {get.GetValueOrDefault("port")}, the app listens on {container.AppPort}");
                if (!HealthPaths.Contains(get.GetValueOrDefault("path") as string ?? "")) violations.Add($"{container.Where}: {probe} path {get.GetValueOrDefault("path")} is no health endpoint");
            }
            // URLs a container calls (an init container waiting for the API): a Service's port that leads to that app's port.
            foreach (var url in container.Command.SelectMany(Urls))
            {
                var target = services.FirstOrDefault(s => (string?)Yaml.At(s.Document, "metadata", "name") == url.Host);
                var servicePort = Yaml.List(Yaml.At(target.Document, "spec", "ports")).Select(Yaml.Map)
                    .FirstOrDefault(p => p.GetValueOrDefault("port") as string == url.Port.ToString(CultureInfo.InvariantCulture));
                var app = Yaml.At(target.Document, "spec", "selector", "app") as string;
                if (target.Document is null || servicePort is null || app is null || !podPorts.TryGetValue(app, out var appPort)
                    || servicePort.GetValueOrDefault("targetPort") as string != appPort.ToString(CultureInfo.InvariantCulture))
                    violations.Add($"{container.Where}: {url} does not reach an app port through a Service of deploy/k8s");
                if (!HealthPaths.Contains(url.AbsolutePath)) violations.Add($"{container.Where}: {url} is no health endpoint");
            }
            var annotations = Yaml.Map(Yaml.At(workload, "spec", "template", "metadata", "annotations"));
            if (annotations.GetValueOrDefault("prometheus.io/port") is string scrapePort && scrapePort != container.AppPort.ToString(CultureInfo.InvariantCulture))
                violations.Add($"{container.Where}: prometheus.io/port {scrapePort}, the app listens on {container.AppPort}");
            if (annotations.GetValueOrDefault("prometheus.io/path") is string scrapePath && scrapePath != ServiceMetrics.Path)
                violations.Add($"{container.Where}: prometheus.io/path {scrapePath}, metrics are at {ServiceMetrics.Path}");
        }
        foreach (var service in services)
            foreach (var port in Yaml.List(Yaml.At(service.Document, "spec", "ports")).Select(Yaml.Map))
                if (!podPorts.TryGetValue(Yaml.At(service.Document, "spec", "selector", "app") as string ?? "", out var appPort)
                    || port.GetValueOrDefault("targetPort") as string != appPort.ToString(CultureInfo.InvariantCulture))
                    violations.Add($"{service.File}: Service {Yaml.At(service.Document, "metadata", "name")} targets port {port.GetValueOrDefault("targetPort")} of no pod listening there");

        foreach (var job in Yaml.List(Yaml.Map(Yaml.Load("deploy/prometheus/prometheus.yml").Single())["scrape_configs"]).Select(Yaml.Map))
        {
            if (job.GetValueOrDefault("metrics_path") as string != ServiceMetrics.Path) violations.Add($"prometheus.yml {job["job_name"]}: metrics_path {job.GetValueOrDefault("metrics_path")}, metrics are at {ServiceMetrics.Path}");
            foreach (var sd in Yaml.List(job.GetValueOrDefault("dns_sd_configs")).Select(Yaml.Map))
                foreach (var name in Yaml.List(sd.GetValueOrDefault("names")).Cast<string>())
                    if (!composePorts.TryGetValue(name, out var port) || sd.GetValueOrDefault("port") as string != port.ToString(CultureInfo.InvariantCulture))
                        violations.Add($"prometheus.yml {job["job_name"]}: {name}:{sd.GetValueOrDefault("port")} is no compose service of ours listening there");
        }
        NoViolations(violations);
    }

    [Fact]
    public void Health_and_metrics_paths_are_endpoints_both_hosts_map()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddHealthChecks();
        builder.AddServiceMetrics();
        var app = builder.Build();
        app.MapDefaultHealthChecks();
        var mapped = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/')).ToHashSet();

        Assert.Superset(HealthPaths.Append(ServiceMetrics.Path).ToHashSet(), mapped);
        foreach (var host in new[] { "src/Api/Program.cs", "src/Worker/Program.cs" })
            Assert.Contains("app.MapDefaultHealthChecks();", Repo.Read(host));
    }

    [Fact]
    public void Commands_name_dlls_the_images_publish_and_flags_the_hosts_know()
    {
        var violations = new List<string>();
        foreach (var container in AllContainers().Concat(Deployments.Images.Select(i => new Container($"{i.Name} CMD", i, i.Cmd, new Dictionary<string, string>()))))
        {
            if (container.Command is ["sh", "-c", ..]) continue; // a shell step (checked for its URLs above)
            if (container.Command.FirstOrDefault() != "dotnet") violations.Add($"{container.Where}: runs {string.Join(' ', container.Command)}, not `dotnet <dll>`");
            if (container.Dll is not { } dll || !container.Image.Dlls.ContainsKey(dll))
                violations.Add($"{container.Where}: {container.Dll ?? "no dll"} is not published into {container.Image.Name} (it has {string.Join(", ", container.Image.Dlls.Keys)})");
            foreach (var flag in container.Command.SkipWhile(c => c != container.Dll).Skip(1))
                if (!(container.RunsApi && (flag == Container.MigrateFlag || flag == Container.WaitFlag))) violations.Add($"{container.Where}: {container.Dll} does not take {flag}");
        }
        // Each attempt runs the CLI next to the worker: the worker's publish must bring it along.
        Assert.Contains("../Cli/Cli.csproj", Repo.Read("src/Worker/Worker.csproj"));
        NoViolations(violations);
    }

    [Fact]
    public void Worker_grace_periods_cover_the_workers_graceful_stop_budget()
    {
        var violations = new List<string>();
        static double Budget(Container c) => new WorkerOptions
        {
            StopGraceSeconds = c.Env.TryGetValue("Worker__StopGraceSeconds", out var s) ? double.Parse(s, CultureInfo.InvariantCulture) : new WorkerOptions().StopGraceSeconds,
        }.ShutdownTimeout.TotalSeconds;

        var workers = 0;
        foreach (var (_, service, container) in Deployments.ComposeContainers().Where(c => c.Container.RunsWorker))
        {
            workers++;
            var grace = Duration(service.GetValueOrDefault("stop_grace_period") as string ?? "10s");
            if (grace < Budget(container)) violations.Add($"{container.Where}: stop_grace_period {grace} s < the worker's shutdown budget {Budget(container)} s");
        }
        foreach (var (_, workload, _, container) in Deployments.K8sContainers().Where(c => c.Container.RunsWorker))
        {
            workers++;
            var grace = double.Parse(Yaml.At(workload, "spec", "template", "spec", "terminationGracePeriodSeconds") as string ?? "30", CultureInfo.InvariantCulture);
            if (grace < Budget(container)) violations.Add($"{container.Where}: terminationGracePeriodSeconds {grace} < the worker's shutdown budget {Budget(container)} s");
        }
        Assert.True(workers >= 3, $"found {workers} worker containers");
        NoViolations(violations);
    }

    [Fact]
    public void Migrations_run_once_as_their_own_step_and_hosts_start_after_it()
    {
        var violations = new List<string>();
        var compose = Deployments.ComposeContainers().ToList();
        var migrate = compose.Where(c => c.Container.Migrates).Select(c => c.Name).ToList();
        Assert.Single(migrate);
        foreach (var (name, service, container) in compose.Where(c => !c.Container.Migrates && (c.Container.RunsApi || c.Container.RunsWorker)))
        {
            if (container.RunsApi && container.Env.GetValueOrDefault("Lora__MigrateOnStartup") != "false")
                violations.Add($"{container.Where}: a migration service exists, so Lora__MigrateOnStartup must be \"false\"");
            var dependsOn = Yaml.Map(service.GetValueOrDefault("depends_on"));
            if (Yaml.At(dependsOn, migrate[0], "condition") as string != "service_completed_successfully")
                violations.Add($"{container.Where}: must wait for {migrate[0]} (condition: service_completed_successfully)");
            if (container.RunsWorker)
            {
                var api = compose.Where(c => c.Container.RunsApi && !c.Container.Migrates).Select(c => c.Name);
                if (!api.Any(a => Yaml.At(dependsOn, a, "condition") as string == "service_healthy"))
                    violations.Add($"{container.Where}: must wait for a healthy API (condition: service_healthy)");
            }
        }

        var k8s = Deployments.K8sContainers().ToList();
        Assert.Contains(k8s, c => c.Container.Migrates && (string?)c.Workload.GetValueOrDefault("kind") == "Job");
        foreach (var (_, workload, _, container) in k8s.Where(c => c.Container.RunsApi && !c.Container.Migrates && !c.Container.WaitsForMigrations))
        {
            if (container.Env.GetValueOrDefault("Lora__MigrateOnStartup") != "false")
                violations.Add($"{container.Where}: a migration Job exists, so Lora__MigrateOnStartup must be \"false\"");
            // The replica starts on a current schema: an init container waits for the Job's migrations.
            if (!Yaml.List(Deployments.PodSpec(workload).GetValueOrDefault("initContainers")).Select(Yaml.Map)
                    .Any(i => Yaml.List(i.GetValueOrDefault("command")).Cast<string>().Contains(Container.WaitFlag)))
                violations.Add($"{container.Where}: needs an init container running the API with {Container.WaitFlag}");
        }
        // A worker pod starts after the API is ready, and the API is ready only with the schema current.
        foreach (var (_, workload, _, container) in k8s.Where(c => c.Container.RunsWorker))
            if (!Yaml.List(Deployments.PodSpec(workload).GetValueOrDefault("initContainers")).Select(Yaml.Map)
                    .Any(i => Yaml.List(i.GetValueOrDefault("command")).Cast<string>().Any(c => c.Contains(HealthEndpoints.Ready, StringComparison.Ordinal))))
                violations.Add($"{container.Where}: needs an init container that waits for the API's {HealthEndpoints.Ready}");
        NoViolations(violations);
    }

    [Fact]
    public void Images_and_pods_run_as_a_non_root_user()
    {
        var violations = new List<string>();
        foreach (var image in Deployments.Images)
            if (image.User is null or "root" or "0" || image.User.StartsWith("0:", StringComparison.Ordinal))
                violations.Add($"{image.Name}: the final stage runs as {image.User ?? "root (no USER)"}");
        foreach (var (name, service, _) in Deployments.ComposeContainers())
            if (service.GetValueOrDefault("user") is string user && (user == "root" || user.Split(':')[0] == "0"))
                violations.Add($"docker-compose.yml service {name}: user {user}");
        foreach (var workload in Deployments.K8s.Where(d => (string?)d.Document.GetValueOrDefault("kind") is "Deployment" or "Job"))
        {
            var context = Yaml.Map(Deployments.PodSpec(workload.Document).GetValueOrDefault("securityContext"));
            if (context.GetValueOrDefault("runAsNonRoot") as string != "true" || context.GetValueOrDefault("runAsUser") is "0" or null)
                violations.Add($"{workload.File} {Yaml.At(workload.Document, "metadata", "name")}: securityContext needs runAsNonRoot: true and a non-zero runAsUser");
        }
        NoViolations(violations);
    }

    [Fact]
    public void The_dashboard_charts_metrics_the_hosts_export_from_the_provisioned_datasource()
    {
        using var dashboard = JsonDocument.Parse(Repo.Read("deploy/grafana/loraservice.json"));
        var datasourceUid = Yaml.At(Yaml.List(Yaml.At(Yaml.Load("deploy/grafana/provisioning/datasources/prometheus.yml").Single(), "datasources"))[0], "uid");
        var exported = ExportedMetrics();
        var violations = new List<string>();
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().ToList();
        Assert.True(panels.Count >= 10, $"{panels.Count} panels");
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString();
            if (panel.GetProperty("datasource").GetProperty("uid").GetString() != (string?)datasourceUid) violations.Add($"{title}: not the provisioned datasource {datasourceUid}");
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            if (targets.Count == 0) violations.Add($"{title}: no query");
            foreach (var expression in targets.Select(t => t.GetProperty("expr").GetString()!))
                foreach (var metric in MetricName().Matches(expression).Select(m => m.Value))
                    if (!exported.Contains(metric)) violations.Add($"{title}: {metric} is not exported by the hosts");
        }
        Assert.Contains(panels, p => p.GetProperty("targets").EnumerateArray().Any(t => t.GetProperty("expr").GetString()!.Contains("lora_webhook_delivery_attempts_total", StringComparison.Ordinal)));
        Assert.Equal("/var/lib/grafana/dashboards", Yaml.At(Yaml.List(Yaml.At(Yaml.Load("deploy/grafana/provisioning/dashboards/loraservice.yml").Single(), "providers"))[0], "options", "path"));
        NoViolations(violations);
    }

    private static readonly string[] HistogramSeries = ["_bucket", "_sum", "_count"];

    private static readonly string[] HealthPaths = [HealthEndpoints.Live, HealthEndpoints.Ready];

    private static IEnumerable<Uri> Urls(string text) => UrlPattern().Matches(text).Select(m => new Uri(m.Value));

    private static void CheckUrl(List<string> violations, string where, Uri url, int port, string[] paths)
    {
        if (url.Host is not ("127.0.0.1" or "localhost")) violations.Add($"{where}: {url} is not the container itself");
        if (url.Port != port) violations.Add($"{where}: {url} is not port {port} the app listens on");
        if (!paths.Contains(url.AbsolutePath)) violations.Add($"{where}: {url.AbsolutePath} is no health endpoint ({string.Join(", ", paths)})");
    }

    /// <summary>"90s", "1m30s" → seconds.</summary>
    private static double Duration(string text) =>
        DurationPart().Matches(text).Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * (m.Groups[2].Value switch { "h" => 3600, "m" => 60, "ms" => 0.001, _ => 1 }));

    /// <summary>
    /// The Prometheus names of the service's instruments (meter LoraService: every static instrument field of the hosts'
    /// assemblies, and the observable gauges created through ServiceMetrics.Gauge) and of ASP.NET Core's request duration.
    /// </summary>
    private static HashSet<string> ExportedMetrics()
    {
        var instruments = ConfigurationKeys.HostAssemblies.SelectMany(a => a.GetTypes())
            .Where(t => !t.ContainsGenericParameters)
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            .Where(f => typeof(Instrument).IsAssignableFrom(f.FieldType))
            .Select(f => f.GetValue(null)).OfType<Instrument>().Where(i => i.Meter.Name == ServiceMetrics.MeterName)
            .Select(i => (i.Name, i.Unit, Kind: i.GetType().Name)).ToList();
        foreach (var file in Directory.EnumerateFiles(Repo.File("src"), "*.cs", SearchOption.AllDirectories))
            foreach (Match m in GaugeCall().Matches(File.ReadAllText(file)))
                instruments.Add((m.Groups["name"].Value, m.Groups["unit"].Value, "ObservableGauge"));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, unit, kind) in instruments)
        {
            var basename = name.Replace('.', '_');
            var suffix = unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
            if (!basename.EndsWith(suffix, StringComparison.Ordinal)) basename += suffix;
            if (kind.StartsWith("Counter", StringComparison.Ordinal)) names.Add(basename + "_total");
            else if (kind.StartsWith("Histogram", StringComparison.Ordinal)) names.UnionWith(HistogramSeries.Select(s => basename + s));
            else names.Add(basename);
        }
        names.UnionWith(HistogramSeries.Select(s => "http_server_request_duration_seconds" + s));
        return names;
    }

    [GeneratedRegex(@"https?://[^\s""';]+")]
    private static partial Regex UrlPattern();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|h|m|s)")]
    private static partial Regex DurationPart();

    [GeneratedRegex(@"\b(?:lora|http_server)_[a-z0-9_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"ServiceMetrics\.Gauge\(""(?<name>[^""]+)"", ""(?<unit>[^""]*)""")]
    private static partial Regex GaugeCall();
}
