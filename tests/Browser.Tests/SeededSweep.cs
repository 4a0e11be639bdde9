using LoraService.Contracts;
using LoraService.Contracts.Jobs;
using LoraService.Domain.Datasets;
using LoraService.Domain.Jobs;
using LoraService.Domain.Sweeps;
using LoraService.TestSupport;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Browser.Tests;

/// <summary>
/// A finished sweep as the workers leave it, written straight to the database: five children on one model and one pair
/// of text eval sets, four evaluated at steps 0, 10 and 20 (loss and token accuracy), one cancelled before it started.
/// </summary>
internal sealed record SeededSweep(Guid SweepId, IReadOnlyList<Guid> Children)
{
    /// <summary>Final (step 20) target loss, source loss, target and source token accuracy per evaluated child.</summary>
    private static readonly (FineTuneMethod Method, int Rank, double TargetLoss, double SourceLoss, double TargetAcc, double SourceAcc)[] Finals =
    [
        (FineTuneMethod.Lora, 4, 1.80, 1.02, 0.40, 0.59),   // learns least, forgets least
        (FineTuneMethod.Lora, 16, 1.60, 1.06, 0.45, 0.57),
        (FineTuneMethod.Lora, 64, 1.65, 1.12, 0.44, 0.50),  // behind r=16: learns less, forgets more
        (FineTuneMethod.Full, 0, 1.30, 1.25, 0.52, 0.45),   // learns most, forgets most
    ];

    public static async Task<SeededSweep> CreateAsync(PostgresDatabase database)
    {
        await using var db = database.CreateContext();
        var tenantId = (await db.ApiKeys.SingleAsync(k => k.IsAdmin)).TenantId;
        Dataset Set(string name) => new()
        {
            TenantId = tenantId, Name = name, Format = "text", Rows = 10, Bytes = 100,
            Sha256 = new string('0', 64), StorageKey = $"datasets/{Guid.NewGuid():N}.jsonl",
        };
        var target = Set("sweep-target");
        var source = Set("sweep-source");
        db.Datasets.AddRange(target, source);
        var sweep = new Sweep { TenantId = tenantId, Name = "browser-sweep", BaseSpec = "{}", Grid = """{"method":["lora","full"],"lora.rank":[4,16,64]}""" };
        db.Sweeps.Add(sweep);
        var children = new List<Guid>();
        for (var i = 0; i <= Finals.Length; i++)
        {
            var evaluated = i < Finals.Length;
            var (method, rank, targetLoss, sourceLoss, targetAcc, sourceAcc) = evaluated ? Finals[i] : (FineTuneMethod.Lora, 8, 0, 0, 0, 0);
            var job = new FineTuneJob
            {
                TenantId = tenantId, Name = $"browser-sweep [{method.ToString().ToLowerInvariant()} r={rank}]",
                Spec = new JobSpec
                {
                    BaseModel = "tiny-llama", Method = method, TrainingDataset = target.Id.ToString(),
                    Lora = method == FineTuneMethod.Lora ? new LoraSettings { Rank = rank, Alpha = 2 * rank } : null,
                    Hyperparameters = new Hyperparameters { LearningRate = method == FineTuneMethod.Lora ? 2e-4 : 2e-5 },
                    Evaluation = new EvaluationSettings { Target = [target.Id.ToString()], Source = [source.Id.ToString()], EveryNSteps = 10 },
                },
            };
            if (evaluated)
            {
                job.Claim("worker-1", TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow);
                job.MoveTo(JobStatus.Succeeded, DateTimeOffset.UtcNow);
                // Step 0 is the base model; step 10 is halfway to the final values.
                foreach (var (step, share) in new[] { (0, 0.0), (10, 0.5), (20, 1.0) })
                {
                    void Point(string role, Guid set, string metric, double start, double end) => db.MetricPoints.Add(new MetricPoint
                    {
                        JobId = job.Id, Name = MetricNames.Eval(role, set, metric), Step = step, Value = start + share * (end - start),
                    });
                    Point(MetricNames.Target, target.Id, "loss", 2.0, targetLoss);
                    Point(MetricNames.Source, source.Id, "loss", 1.0, sourceLoss);
                    Point(MetricNames.Target, target.Id, "token_accuracy", 0.30, targetAcc);
                    Point(MetricNames.Source, source.Id, "token_accuracy", 0.60, sourceAcc);
                }
            }
            else job.MoveTo(JobStatus.Cancelled, DateTimeOffset.UtcNow);
            db.Jobs.Add(job);
            db.SweepChildren.Add(new SweepChild { JobId = job.Id, SweepId = sweep.Id, Index = i, Coordinates = $$"""{"method":"{{method.ToString().ToLowerInvariant()}}"}""" });
            children.Add(job.Id);
        }
        await db.SaveChangesAsync();
        return new SeededSweep(sweep.Id, children);
    }
}
