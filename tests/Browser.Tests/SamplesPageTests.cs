using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LoraService.Browser.Tests;

/// <summary>The job page's samples in a real Chromium: per step and set, and a hostile generation shown as text.</summary>
public sealed class SamplesPageTests(DashboardHost host) : IClassFixture<DashboardHost>
{
    private const string Hostile = "<img src=x onerror=\"window.__injected = 1\"><b>bold</b>";

    private static async Task AddSamplesAsync(PostgresDatabase database, SeededJob job, int step, string targetOutput)
    {
        await using var db = database.CreateContext();
        EvaluationSample Sample(string role, Guid set, string name, int index, string prompt, string output, string expected, bool correct) => new()
        {
            JobId = job.JobId, Step = step, Role = role, DatasetId = set, DatasetName = name, Index = index,
            Prompt = prompt, Output = output, Expected = expected, Correct = correct,
        };
        db.EvaluationSamples.AddRange(
            Sample("target", job.Target, "arithmetic-facts", 0, "What is 6 × 7?\nAnswer:", targetOutput, "42", targetOutput.Contains("#### 42")),
            Sample("target", job.Target, "arithmetic-facts", 1, "What is 2 + 2?", "#### 4", "4", true),
            Sample("source", job.Source, "general-knowledge", 0, "The capital of France is", "Paris", "Paris", true));
        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task Samples_show_per_step_and_set_and_markup_in_an_output_stays_text()
    {
        var job = await SeededJob.CreateAsync(host.Database);
        await AddSamplesAsync(host.Database, job, 0, "#### 41");
        await AddSamplesAsync(host.Database, job, 20, Hostile);
        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            SetDefaultExpectTimeout(15_000);
            var page = await browser.NewPageAsync(new() { BaseURL = host.BaseAddress.ToString() });
            var problems = new List<string>();
            page.PageError += (_, error) => problems.Add("page error: " + error);
            await page.GotoAsync("/dashboard/?poll=400");
            await page.FillAsync("#api-key", TestKeys.Admin);
            await page.ClickAsync("#use-key");
            await Expect(page.GetByTestId("tenant")).Not.ToBeEmptyAsync();
            await page.GotoAsync($"/dashboard/?poll=400#/jobs/{job.JobId}");

            // The latest step by default, target set first.
            var samples = page.Locator("#samples");
            await Expect(page.Locator("#sample-step option")).ToHaveTextAsync(["Step 0 (base model)", "Step 20"]);
            await Expect(page.Locator("#sample-step")).ToHaveValueAsync("20");
            await Expect(samples.Locator(".sample-set h3")).ToHaveTextAsync(["arithmetic-facts target", "general-knowledge source"]);
            var first = samples.Locator($".sample-set[data-set='{job.Target}'] tr[data-index='0']");
            await Expect(first.Locator("[data-field=prompt]")).ToHaveTextAsync("What is 6 × 7?\nAnswer:");
            await Expect(first.Locator("[data-field=expected]")).ToHaveTextAsync("42");
            await Expect(first.Locator("[data-correct]")).ToHaveTextAsync("wrong");

            // The hostile output is its own text: no element was made from it and its handler never ran.
            await Expect(first.Locator("[data-field=output]")).ToHaveTextAsync(Hostile);
            await Expect(samples.Locator("img")).ToHaveCountAsync(0);
            await Expect(samples.Locator("b")).ToHaveCountAsync(0);
            Assert.True(await page.EvaluateAsync<bool>("() => window.__injected === undefined"));

            // Another step.
            await page.SelectOptionAsync("#sample-step", "0");
            await Expect(first.Locator("[data-field=output]")).ToHaveTextAsync("#### 41");
            await Expect(samples.Locator(".sample-set[data-role=source] [data-field=output]")).ToHaveTextAsync("Paris");

            // A new evaluation adds its step to the selector while the page keeps the chosen one.
            await AddSamplesAsync(host.Database, job, 60, "#### 42");
            await job.AddEvalAsync(60);
            await Expect(page.Locator("#sample-step option")).ToHaveTextAsync(["Step 0 (base model)", "Step 20", "Step 60"]);
            await Expect(page.Locator("#sample-step")).ToHaveValueAsync("0");
            Assert.Empty(problems);
        }
        finally
        {
            await browser.CloseAsync();
            playwright.Dispose();
        }
    }
}
