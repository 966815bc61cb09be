#Requires -Version 7.2
# Checks that every exported cmdlet ships first-class help (MAML built by tools/New-MamlHelp.ps1).
# Needs the built module: $env:UNICORN_MODULE = module folder or .psd1 (default <repo>/out/Unicorn).
# The module name (for about_<Name>) is taken from the imported module; $env:UNICORN_MODULE_NAME overrides it.

BeforeDiscovery {
    $modulePath = if ($env:UNICORN_MODULE) { $env:UNICORN_MODULE } else { Join-Path $PSScriptRoot '../../out/Unicorn' }
    if (-not (Test-Path -LiteralPath $modulePath)) { throw "Module not built at '$modulePath': build it first or set `$env:UNICORN_MODULE." }
    $module = Import-Module -Name (Resolve-Path -LiteralPath $modulePath).ProviderPath -Force -PassThru -DisableNameChecking | Select-Object -First 1
    $moduleName = if ($env:UNICORN_MODULE_NAME) { $env:UNICORN_MODULE_NAME } else { $module.Name }
    $common = [System.Management.Automation.Cmdlet]::CommonParameters
    $cmdlets = @(Get-Command -Module $moduleName -CommandType Cmdlet | Sort-Object Name | ForEach-Object {
        @{
            Name       = $_.Name
            Parameters = @($_.Parameters.Keys | Where-Object { -not $common.Contains($_) } | Sort-Object)
        }
    })
}

BeforeAll {
    $modulePath = if ($env:UNICORN_MODULE) { $env:UNICORN_MODULE } else { Join-Path $PSScriptRoot '../../out/Unicorn' }
    $module = Import-Module -Name (Resolve-Path -LiteralPath $modulePath).ProviderPath -Force -PassThru -DisableNameChecking | Select-Object -First 1
    $moduleName = if ($env:UNICORN_MODULE_NAME) { $env:UNICORN_MODULE_NAME } else { $module.Name }

    # Joins the text of a MAML description (an array of @{ Text = ... } paragraphs, or nothing).
    function Get-HelpText($Node) {
        (@($Node) | Where-Object { $_ } | ForEach-Object { if ($_ -is [string]) { $_ } else { $_.Text } }) -join "`n"
    }
}

Describe 'Help' -Tag 'Help' {
    It 'the module exports cmdlets' -ForEach @{ cmdlets = $cmdlets } {
        $cmdlets.Count | Should -BeGreaterThan 0
    }

    It 'has an about_<moduleName> topic' -ForEach @{ moduleName = $moduleName } {
        $text = Get-Help "about_$moduleName" -ErrorAction Stop | Out-String
        $text | Should -Match "about_$moduleName"
        $text.Trim().Length | Should -BeGreaterThan 100
    }

    Context '<Name>' -ForEach $cmdlets {
        BeforeAll {
            $help = Get-Help -Name $Name -Full -ErrorAction Stop | Select-Object -First 1
            $command = Get-Command -Name $Name -Module $moduleName -CommandType Cmdlet
        }

        It 'has a synopsis (not the generated syntax)' {
            $synopsis = "$($help.Synopsis)".Trim()
            $synopsis | Should -Not -BeNullOrEmpty
            # Without a MAML topic Get-Help falls back to the syntax, which starts with the name.
            $synopsis | Should -Not -Match "^$([regex]::Escape($Name))(\s|$)"
        }

        It 'has a description' {
            Get-HelpText $help.description | Should -Not -BeNullOrEmpty
        }

        It 'has at least two examples, each with code' {
            $examples = @(if ($help.examples) { $help.examples.example })
            $examples.Count | Should -BeGreaterOrEqual 2
            foreach ($example in $examples) {
                "$($example.code)".Trim() | Should -Not -BeNullOrEmpty -Because "example '$($example.title)' needs code"
            }
        }

        It 'documents parameter -<_>' -ForEach $Parameters -AllowNullOrEmptyForEach {
            $parameter = @($help.parameters.parameter) | Where-Object name -EQ $_
            $parameter | Should -Not -BeNullOrEmpty -Because "-$_ should appear in the help"
            Get-HelpText $parameter.description | Should -Not -BeNullOrEmpty
        }

        It 'declares at least one [OutputType]' {
            $command.OutputType.Count | Should -BeGreaterThan 0
        }
    }
}
