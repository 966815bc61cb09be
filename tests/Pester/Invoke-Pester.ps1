<#
.SYNOPSIS
Runs the Pester suite against the built module and writes {Passed, Failed} to ResultPath.
Called by build.ps1 -Task Test in its own pwsh, so the module loads fresh.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ResultPath,
    [string[]] $Tag = @(),
    # Test files (names in this folder) to run, or to leave out; all of them by default.
    [string[]] $Path = @(),
    [string[]] $ExcludePath = @()
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -Force

$config = New-PesterConfiguration
# A list may come as one comma-separated argument (pwsh -File passes each argument as a string);
# a path may be absolute.
$config.Run.Path = if ($Path) { $Path -split ',' | ForEach-Object { [IO.Path]::Combine($PSScriptRoot, $_) } } else { $PSScriptRoot }
if ($ExcludePath) { $config.Run.ExcludePath = $ExcludePath -split ',' | ForEach-Object { [IO.Path]::Combine($PSScriptRoot, $_) } }
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
if ($Tag) { $config.Filter.Tag = $Tag -split ',' }
$run = Invoke-Pester -Configuration $config

New-Item -ItemType Directory -Path (Split-Path $ResultPath) -Force | Out-Null
# Failures in BeforeAll/AfterAll blocks count as failures too.
$failed = $run.FailedCount + $run.FailedBlocksCount + $run.FailedContainersCount
@{ Passed = $run.PassedCount; Failed = $failed } | ConvertTo-Json | Set-Content $ResultPath
