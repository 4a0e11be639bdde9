using System.Globalization;
using System.Net;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using LoraService.TestSupport;
using static Microsoft.Playwright.Assertions;

namespace LoraService.Browser.Tests;

/// <summary>The dashboard in a real Chromium against the real API and database: key, jobs list, job detail, live polling.</summary>
public sealed class DashboardTests(DashboardHost host) : IClassFixture<DashboardHost>
{
    private const int PollMs = 400;

    private static string Screenshot(string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }

    private static string F4(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    private static double Learning(string metric, int final) => metric == "loss"
        ? SeededJob.Eval("target", metric, 0) - SeededJob.Eval("target", metric, final)
        : SeededJob.Eval("target", metric, final) - SeededJob.Eval("target", metric, 0);

    private static double Forgetting(string metric, int final) => metric == "loss"
        ? SeededJob.Eval("source", metric, final) - SeededJob.Eval("source", metric, 0)
        : SeededJob.Eval("source", metric, 0) - SeededJob.Eval("source", metric, final);

    [Fact]
    public async Task Dashboard_is_served_without_a_key_but_the_api_is_not()
    {
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var page = await client.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<script type=\"module\" src=\"app.js\">", await page.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/dashboard/job.js")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/me")).StatusCode);
    }

    [Fact]
    public async Task Key_jobs_list_and_a_running_job_polled_live_until_it_succeeds()
    {
        var job = await SeededJob.CreateAsync(host.Database);
        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            SetDefaultExpectTimeout(15_000);
            var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 }, BaseURL = host.BaseAddress.ToString() });
            var page = await context.NewPageAsync();
            var problems = new List<string>();
            page.PageError += (_, error) => problems.Add("page error: " + error);
            page.Console += (_, message) => { if (message.Type == "error") problems.Add("console: " + message.Text); };

            // Key entry, then who am I.
            await page.GotoAsync($"/dashboard/?poll={PollMs}");
            await Expect(page.Locator("#api-key")).ToBeVisibleAsync();
            await page.ScreenshotAsync(new() { Path = Screenshot("sign-in.png") });
            await page.FillAsync("#api-key", TestKeys.Admin);
            await page.ClickAsync("#use-key");
            await Expect(page.GetByTestId("tenant")).Not.ToBeEmptyAsync();

            // Jobs list: the seeded job with its badge and progress.
            var row = page.Locator($"tr[data-job-id='{job.JobId}']");
            await Expect(row.GetByTestId("status")).ToHaveTextAsync("running");
            await Expect(row).ToContainTextAsync("40 / 100");
            await Expect(row).ToContainTextAsync("tiny-llama");
            await Expect(row.GetByTestId("method")).ToHaveTextAsync("LoRA r=8");
            await page.ScreenshotAsync(new() { Path = Screenshot("jobs.png") });

            // Job detail.
            await row.Locator("a.job-link").ClickAsync();
            var detail = page.Locator($".job[data-job-id='{job.JobId}']");
            await Expect(detail.GetByTestId("progress-text")).ToHaveTextAsync("Step 40 / 100");
            await Expect(detail).ToContainTextAsync("40,960");
            await Expect(detail.Locator(".job-head").GetByTestId("status")).ToHaveTextAsync("running");
            await Expect(page.Locator("#cancel")).ToBeVisibleAsync();
            var loss = page.Locator("#loss-chart figure");
            await Expect(loss).ToHaveAttributeAsync("data-points", "40");
            await Expect(page.Locator("#loss-chart g.series")).ToHaveAttributeAsync("data-points", "40");

            // Eval charts: target and source separately, three evaluations (step 0 = base model, 20, 40), named by dataset.
            await Expect(page.Locator("[data-role='target'] figure[data-metric='target/loss']")).ToHaveAttributeAsync("data-points", "3");
            await Expect(page.Locator("[data-role='source'] figure[data-metric='source/token_accuracy']")).ToHaveAttributeAsync("data-points", "3");
            await Expect(page.Locator("[data-role='target'] figure[data-metric='target/loss'] g.series")).ToHaveAttributeAsync("data-series", "arithmetic-facts");
            await Expect(page.Locator("[data-role='source'] figure[data-metric='source/loss'] g.series")).ToHaveAttributeAsync("data-series", "general-knowledge");

            // Summary: learning and forgetting from the seeded numbers.
            foreach (var metric in new[] { "loss", "token_accuracy" })
            {
                await Expect(page.Locator($"[data-summary='learning'][data-metric='{metric}']")).ToHaveTextAsync(F4(Learning(metric, 40)));
                await Expect(page.Locator($"[data-summary='forgetting'][data-metric='{metric}']")).ToHaveTextAsync(F4(Forgetting(metric, 40)));
            }
            await Expect(page.Locator("#summary table.evals")).ToContainTextAsync("general-knowledge");
            // A target loss that fell shows a negative change marked better; a source loss that rose, positive and worse.
            var targetLoss = page.Locator("#summary table.evals tr[data-role='target'][data-metric='loss']");
            await Expect(targetLoss.Locator("[data-change]")).ToHaveTextAsync(F4(SeededJob.Eval("target", "loss", 40) - SeededJob.Eval("target", "loss", 0)));
            await Expect(targetLoss.Locator("[data-verdict]")).ToHaveTextAsync("better");
            var sourceLoss = page.Locator("#summary table.evals tr[data-role='source'][data-metric='loss']");
            await Expect(sourceLoss.Locator("[data-change]")).ToHaveTextAsync("+" + F4(SeededJob.Eval("source", "loss", 40) - SeededJob.Eval("source", "loss", 0)));
            await Expect(sourceLoss.Locator("[data-verdict]")).ToHaveTextAsync("worse");
            await Expect(page.Locator("#events tbody tr")).ToHaveCountAsync(3);
            await Expect(page.Locator("#artifacts")).ToContainTextAsync("None yet");

            // The worker moves on: the next poll appends only the new points.
            await job.AddTrainLossAsync(41, 60);
            await job.AddEvalAsync(60);
            await job.SetProgressAsync(60);
            await Expect(loss).ToHaveAttributeAsync("data-points", "60");
            await Expect(detail.GetByTestId("progress-text")).ToHaveTextAsync("Step 60 / 100");
            await Expect(page.Locator("[data-role='target'] figure[data-metric='target/loss']")).ToHaveAttributeAsync("data-points", "4");
            await Expect(page.Locator("[data-summary='learning'][data-metric='loss']")).ToHaveTextAsync(F4(Learning("loss", 60)));
            await Expect(page.Locator("[data-summary='forgetting'][data-metric='loss']")).ToHaveTextAsync(F4(Forgetting("loss", 60)));
            Assert.Equal("on", await detail.GetAttributeAsync("data-polling"));
            await page.ScreenshotAsync(new() { Path = Screenshot("job-running.png"), FullPage = true });

            // It finishes: the last points arrive, the status updates and polling stops.
            await job.AddTrainLossAsync(61, 100);
            await job.AddEvalAsync(100);
            await job.SucceedAsync(host.Services.GetRequiredService<IArtifactStore>());
            await Expect(detail).ToHaveAttributeAsync("data-polling", "stopped");
            await Expect(detail.Locator(".job-head").GetByTestId("status")).ToHaveTextAsync("succeeded");
            await Expect(detail.GetByTestId("progress-text")).ToHaveTextAsync("Step 100 / 100");
            await Expect(loss).ToHaveAttributeAsync("data-points", "100");
            await Expect(page.Locator("#cancel")).ToHaveCountAsync(0);
            await Expect(page.Locator("#events tbody tr")).ToHaveCountAsync(4);
            await Expect(page.Locator("[data-summary='learning'][data-metric='token_accuracy']")).ToHaveTextAsync(F4(Learning("token_accuracy", 100)));
            await page.ScreenshotAsync(new() { Path = Screenshot("job-succeeded.png"), FullPage = true });

            // Artifacts download with the bearer key (fetched as a blob, saved by the browser).
            await Expect(page.Locator("#artifacts")).ToContainTextAsync("summary.json");
            var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("#artifacts button", new() { HasText = "Download" }).ClickAsync());
            Assert.Equal("summary.json", download.SuggestedFilename);
            Assert.Equal(SeededJob.SummaryJson, await File.ReadAllTextAsync((await download.PathAsync())!));

            // Nothing more is fetched once the job is terminal.
            await job.AddTrainLossAsync(101, 110);
            await page.WaitForTimeoutAsync(PollMs * 5);
            Assert.Equal("100", await loss.GetAttributeAsync("data-points"));

            Assert.Empty(problems);
        }
        finally
        {
            await browser.CloseAsync();
            playwright.Dispose();
        }
    }

    [Fact]
    public async Task A_wrong_key_is_refused_and_the_list_filters_by_status_and_pages()
    {
        var queued = await SeededJob.JobsAsync(host.Database, 23, "paged");
        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            SetDefaultExpectTimeout(15_000);
            var page = await browser.NewPageAsync(new() { BaseURL = host.BaseAddress.ToString() });
            await page.GotoAsync("/dashboard/");
            await page.FillAsync("#api-key", "lsk_00000000_not-a-real-key");
            await page.ClickAsync("#use-key");
            await Expect(page.Locator(".key-form .error")).ToHaveTextAsync("That key was not accepted.");

            await page.FillAsync("#api-key", TestKeys.Admin);
            await page.ClickAsync("#use-key");
            await page.SelectOptionAsync("#status-filter", "queued");
            await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("status=queued"));
            // Newest first, 20 a page: jobs 22..03, then 02..00 on the next page.
            var rows = page.Locator("#jobs tbody tr[data-job-id]");
            await Expect(rows).ToHaveCountAsync(20);
            await Expect(rows.First).ToHaveAttributeAsync("data-job-id", queued[22].ToString());
            await Expect(page.Locator("#jobs .badge")).ToHaveTextAsync(Enumerable.Repeat("queued", 20).ToArray());
            await page.ClickAsync("#next-page");
            await Expect(rows).ToHaveCountAsync(3);
            await Expect(rows.First).ToHaveAttributeAsync("data-job-id", queued[2].ToString());
            await Expect(page.Locator("#next-page")).ToHaveCountAsync(0);
            await page.GetByText("← Previous").ClickAsync();
            await Expect(rows).ToHaveCountAsync(20);

            await page.SelectOptionAsync("#status-filter", "cancelled"); // no test makes one
            await Expect(page.Locator("#jobs tbody")).ToContainTextAsync("No jobs.");
        }
        finally
        {
            await browser.CloseAsync();
            playwright.Dispose();
        }
    }

    private const string OutOfMemoryMessage = "The job ran out of memory 3 times; it is not resumed again. " +
        "Last: CUDA out of memory. Tried to allocate 20.00 MiB. POST /retry resumes it from its last checkpoint.";

    [Fact]
    public async Task A_failed_job_shows_its_error_and_a_running_one_can_be_cancelled()
    {
        var failed = (await SeededJob.JobsAsync(host.Database, 1, "broken", job =>
        {
            job.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow);
            // What the worker writes (JobFinisher) when an attempt ends out_of_memory (AttemptOutcome) for the last allowed time.
            job.Fail("out_of_memory", OutOfMemoryMessage, DateTimeOffset.UtcNow);
        }))[0];
        var running = (await SeededJob.JobsAsync(host.Database, 1, "to-cancel", job => job.MoveTo(JobStatus.Running, DateTimeOffset.UtcNow)))[0];
        var abandoned = (await SeededJob.JobsAsync(host.Database, 1, "abandoned", job =>
        {
            // Its worker renewed the lease five minutes ago and never again.
            job.Claim("gone-worker", TimeSpan.FromSeconds(30), DateTimeOffset.UtcNow.AddMinutes(-5));
            job.Progress = new JobProgress { Step = 7, TotalSteps = 100, EtaSeconds = 120 };
        }))[0];
        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            SetDefaultExpectTimeout(15_000);
            var page = await browser.NewPageAsync(new() { BaseURL = host.BaseAddress.ToString() });
            await page.GotoAsync($"/dashboard/?poll={PollMs}");
            await page.FillAsync("#api-key", TestKeys.Admin);
            await page.ClickAsync("#use-key");
            await Expect(page.GetByTestId("tenant")).Not.ToBeEmptyAsync();

            await page.GotoAsync($"/dashboard/?poll={PollMs}#/jobs/{failed}");
            var detail = page.Locator($".job[data-job-id='{failed}']");
            await Expect(detail.GetByTestId("job-error")).ToHaveTextAsync("out_of_memory " + OutOfMemoryMessage);
            await Expect(detail).ToHaveAttributeAsync("data-polling", "stopped");
            await Expect(page.Locator("#cancel")).ToHaveCountAsync(0);
            await Expect(page.Locator("#loss-chart figure")).ToHaveAttributeAsync("data-points", "0");
            // A failed job can be retried from the page; it goes back to the queue and the page polls again.
            await page.ClickAsync("#retry");
            await Expect(detail.Locator(".job-head").GetByTestId("status")).ToHaveTextAsync("queued");
            await Expect(detail).ToHaveAttributeAsync("data-polling", "on");

            await page.GotoAsync($"/dashboard/?poll={PollMs}#/jobs/{abandoned}");
            var stale = page.Locator($".job[data-job-id='{abandoned}']");
            await Expect(stale.GetByTestId("stale-worker")).ToContainTextAsync("gone-worker — not answering");
            await Expect(stale.Locator("dt:text-is('ETA') + dd")).ToHaveTextAsync("–");

            await page.GotoAsync($"/dashboard/?poll={PollMs}#/jobs/{running}");
            page.Dialog += (_, dialog) => dialog.AcceptAsync();
            await page.ClickAsync("#cancel");
            await Expect(page.Locator($".job[data-job-id='{running}'] .job-head").GetByTestId("status")).ToHaveTextAsync("cancelling");
            await using var db = host.Database.CreateContext();
            Assert.Equal(JobStatus.Cancelling, (await db.Jobs.SingleAsync(j => j.Id == running)).Status);
        }
        finally
        {
            await browser.CloseAsync();
            playwright.Dispose();
        }
    }
}
