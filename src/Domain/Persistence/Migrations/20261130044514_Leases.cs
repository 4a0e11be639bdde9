using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace LoraService.Domain.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Leases : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "attempt",
                table: "metric_points",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "failed_attempts",
                table: "jobs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "lease_expires_at",
                table: "jobs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "queue",
                table: "jobs",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                // Jobs created before this migration went to the embedded default's queue.
                defaultValue: "cpu");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "queued_at",
                table: "jobs",
                type: "timestamp with time zone",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)));

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "woken_at",
                table: "jobs",
                type: "timestamp with time zone",
                nullable: true);

            // Jobs queued before this migration keep their place in line.
            migrationBuilder.Sql("UPDATE jobs SET queued_at = created_at");

            migrationBuilder.CreateTable(
                name: "job_attempts",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    attempt = table.Column<int>(type: "integer", nullable: false),
                    worker_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ended_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    outcome = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    detail = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_job_attempts", x => x.id);
                    table.ForeignKey(
                        name: "fk_job_attempts_jobs_job_id",
                        column: x => x.job_id,
                        principalTable: "jobs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_jobs_status_lease_expires_at",
                table: "jobs",
                columns: new[] { "status", "lease_expires_at" });

            migrationBuilder.CreateIndex(
                name: "ix_jobs_status_queue_queued_at",
                table: "jobs",
                columns: new[] { "status", "queue", "queued_at" });

            migrationBuilder.CreateIndex(
                name: "ix_job_attempts_job_id_attempt",
                table: "job_attempts",
                columns: new[] { "job_id", "attempt" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "job_attempts");

            migrationBuilder.DropIndex(
                name: "ix_jobs_status_lease_expires_at",
                table: "jobs");

            migrationBuilder.DropIndex(
                name: "ix_jobs_status_queue_queued_at",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "attempt",
                table: "metric_points");

            migrationBuilder.DropColumn(
                name: "failed_attempts",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "lease_expires_at",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "queue",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "queued_at",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "woken_at",
                table: "jobs");
        }
    }
}
