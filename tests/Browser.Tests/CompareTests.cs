using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using LoraService.TestSupport;
using static Microsoft.Playwright.Assertions;

namespace LoraService.Browser.Tests;

/// <summary>The compare page of a seeded sweep in a real Chromium: its points, their order on the plane and the front, checked against the API.</summary>
public sealed class CompareTests(DashboardHost host) : IClassFixture<DashboardHost>
{
    private static double Number(string? text) => double.Parse(text!, CultureInfo.InvariantCulture);

    private async Task<JsonElement> SweepAsync(Guid id, string query = "")
    {
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestKeys.Admin);
        return await client.GetFromJsonAsync<JsonElement>($"/api/v1/sweeps/{id}{query}");
    }

    /// <summary>The vertices of an SVG path made of M and L commands.</summary>
    private static List<(double X, double Y)> Vertices(string d) =>
        [.. Regex.Matches(d, @"[ML](-?[\d.]+),(-?[\d.]+)").Select(m => (Number(m.Groups[1].Value), Number(m.Groups[2].Value)))];

    [Fact]
    public async Task The_compare_page_draws_each_job_where_the_api_places_it_and_the_front_through_the_apis_front()
    {
        var seeded = await SeededSweep.CreateAsync(host.Database);
        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            SetDefaultExpectTimeout(15_000);
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 }, BaseURL = host.BaseAddress.ToString() });
            var problems = new List<string>();
            page.PageError += (_, error) => problems.Add("page error: " + error);
            page.Console += (_, message) => { if (message.Type == "error") problems.Add("console: " + message.Text); };
            await page.GotoAsync("/dashboard/");
            await page.FillAsync("#api-key", TestKeys.Admin);
            await page.ClickAsync("#use-key");
            await Expect(page.GetByTestId("tenant")).Not.ToBeEmptyAsync();

            // The jobs list shows each child's headline numbers.
            var firstRow = page.Locator($"tr[data-job-id='{seeded.Children[0]}']");
            await Expect(firstRow.GetByTestId("learning")).ToHaveTextAsync("0.2000 loss");
            await Expect(firstRow.GetByTestId("forgetting")).ToHaveTextAsync("0.0200 loss");

            // Navigation → sweeps → the sweep.
            await page.ClickAsync("#nav-sweeps");
            var row = page.Locator($"tr[data-sweep-id='{seeded.SweepId}']");
            await Expect(row).ToContainTextAsync("4 succeeded");
            await row.Locator("a.sweep-link").ClickAsync();

            foreach (var metric in new[] { "loss", "token_accuracy" })
            {
                var sweep = await SweepAsync(seeded.SweepId, metric == "loss" ? "" : $"?metric={metric}");
                var placed = sweep.GetProperty("children").EnumerateArray().Where(c => c.GetProperty("learning").ValueKind == JsonValueKind.Number).ToList();
                Assert.Equal(4, placed.Count);
                var figure = page.Locator("#plane figure.plane");
                await Expect(page.Locator(".compare")).ToHaveAttributeAsync("data-forgetting-metric", metric);
                await Expect(figure).ToHaveAttributeAsync("data-points", "4");
                await Expect(figure.Locator("g.point")).ToHaveCountAsync(4);
                await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, $"compare-{metric}.png"), FullPage = true });

                // Each point carries the API's numbers and front flag, is labelled by method and rank, and sits where they say.
                var centres = new Dictionary<Guid, (double X, double Y)>();
                foreach (var child in placed)
                {
                    var id = child.GetProperty("job_id").GetGuid();
                    var point = figure.Locator($"g.point[data-job-id='{id}']");
                    Assert.Equal(child.GetProperty("learning").GetDouble(), Number(await point.GetAttributeAsync("data-learning")), 12);
                    Assert.Equal(child.GetProperty("forgetting").GetDouble(), Number(await point.GetAttributeAsync("data-forgetting")), 12);
                    Assert.Equal(child.GetProperty("on_front").GetBoolean() ? "true" : "false", await point.GetAttributeAsync("data-on-front"));
                    Assert.Equal(child.GetProperty("method").GetString() == "lora" ? $"LoRA r={child.GetProperty("rank").GetInt32()}" : "full",
                        await point.Locator("text.point-label").TextContentAsync());
                    var circle = point.Locator("circle");
                    centres[id] = (Number(await circle.GetAttributeAsync("cx")), Number(await circle.GetAttributeAsync("cy")));
                }
                // More forgetting is further right; more learning is higher up (smaller y).
                var byForgetting = placed.OrderBy(c => c.GetProperty("forgetting").GetDouble()).Select(c => centres[c.GetProperty("job_id").GetGuid()].X).ToList();
                Assert.Equal(byForgetting.Order(), byForgetting);
                Assert.Equal(byForgetting.Count, byForgetting.Distinct().Count());
                var byLearning = placed.OrderBy(c => c.GetProperty("learning").GetDouble()).Select(c => centres[c.GetProperty("job_id").GetGuid()].Y).ToList();
                Assert.Equal(byLearning.OrderDescending(), byLearning);

                // The front line runs through the API's front, in its order; the dominated r=64 child is off it.
                var front = sweep.GetProperty("front").EnumerateArray().Select(f => f.GetGuid()).ToList();
                Assert.Equal([seeded.Children[0], seeded.Children[1], seeded.Children[3]], front);
                var line = figure.Locator("path.front");
                await Expect(line).ToHaveAttributeAsync("data-points", "3");
                var vertices = Vertices((await line.GetAttributeAsync("d"))!);
                Assert.Equal(front.Count, vertices.Count);
                for (var i = 0; i < front.Count; i++)
                {
                    Assert.Equal(centres[front[i]].X, vertices[i].X, 0.06);
                    Assert.Equal(centres[front[i]].Y, vertices[i].Y, 0.06);
                }
                // A faint path per job through its three evaluations (steps 0, 10, 20).
                await Expect(figure.Locator("path.job-path[data-steps='3']")).ToHaveCountAsync(4);
                await Expect(page.Locator("#best")).ToHaveAttributeAsync("data-job-id", sweep.GetProperty("best").GetGuid().ToString());

                // The sets share loss, perplexity and token accuracy: the selector switches both sides.
                if (metric == "loss") await page.SelectOptionAsync("#metric", "token_accuracy");
            }

            // A forgetting limit picks the best job within it.
            await page.FillAsync("#max-forgetting", "0.05");
            await page.ClickAsync("text=Find best");
            await Expect(page.Locator("#best")).ToHaveAttributeAsync("data-job-id", seeded.Children[1].ToString());

            // Any set of jobs: the dominated r=64 child and the full one are both on the front without r=16.
            await page.GotoAsync($"/dashboard/#/compare?jobs={seeded.Children[0]},{seeded.Children[2]},{seeded.Children[3]}");
            var compared = page.Locator("#plane figure.plane");
            await Expect(compared).ToHaveAttributeAsync("data-points", "3");
            await Expect(compared.Locator("g.point[data-on-front='true']")).ToHaveCountAsync(3);
            await Expect(compared.Locator("path.front")).ToHaveAttributeAsync("data-points", "3");
            await Expect(page.Locator("#best")).ToHaveAttributeAsync("data-job-id", seeded.Children[3].ToString());

            // Clicking a point opens its job.
            await page.Locator($"g.point[data-job-id='{seeded.Children[2]}'] circle").ClickAsync();
            await Expect(page.Locator($".job[data-job-id='{seeded.Children[2]}']")).ToBeVisibleAsync();
            Assert.Empty(problems);
        }
        finally
        {
            await browser.CloseAsync();
            playwright.Dispose();
        }
    }
}
