using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LoraService.Domain.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class PromotedModels : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "owner_tenant_id",
                table: "base_models",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "parent_model",
                table: "base_models",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "promoted_at",
                table: "base_models",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "source_job_id",
                table: "base_models",
                type: "uuid",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_base_models_owner_tenant_id",
                table: "base_models",
                column: "owner_tenant_id");

            migrationBuilder.AddForeignKey(
                name: "fk_base_models_tenants_owner_tenant_id",
                table: "base_models",
                column: "owner_tenant_id",
                principalTable: "tenants",
                principalColumn: "id",
                onDelete: ReferentialAction.Restrict);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_base_models_tenants_owner_tenant_id",
                table: "base_models");

            migrationBuilder.DropIndex(
                name: "ix_base_models_owner_tenant_id",
                table: "base_models");

            migrationBuilder.DropColumn(
                name: "owner_tenant_id",
                table: "base_models");

            migrationBuilder.DropColumn(
                name: "parent_model",
                table: "base_models");

            migrationBuilder.DropColumn(
                name: "promoted_at",
                table: "base_models");

            migrationBuilder.DropColumn(
                name: "source_job_id",
                table: "base_models");
        }
    }
}
