#Requires -Version 7.2
<#
.SYNOPSIS
    Builds MAML help (<Assembly>.dll-Help.xml) and about_*.help.txt from platyPS-style markdown.

.DESCRIPTION
    Imports the module, and for every exported cmdlet reads <DocsPath>/<CmdletName>.md.
    Syntax and parameter metadata (type, mandatory, position, pipeline input, aliases,
    accepted values) come from the loaded cmdlet; all prose comes from the markdown.
    Writes <OutputPath>/en-US/<Assembly>.dll-Help.xml (one file per implementing
    assembly, named as CmdletInfo.HelpFile expects) and converts about_*.md to
    <OutputPath>/en-US/about_*.help.txt.

    Fails (terminating error) when a cmdlet has no page, or its page lacks a SYNOPSIS,
    a DESCRIPTION, two examples with code, or a description for any of its parameters.

    Run it in a child pwsh: importing the module loads (and on Windows locks) its dll.
    The page format is described in tools/README.md.

.EXAMPLE
    pwsh -NoProfile -File tools/New-MamlHelp.ps1 -ModulePath out/Unicorn -DocsPath docs/help -OutputPath out/Unicorn
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $DocsPath,
    [Parameter(Mandatory)] [string] $OutputPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ns = @{
    msh = 'http://msh'
    maml = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev = 'http://schemas.microsoft.com/maml/dev/2004/10'
    MSHelp = 'http://msdn.microsoft.com/mshelp'
}
$commonParameters = [System.Management.Automation.Cmdlet]::CommonParameters
# WhatIf/Confirm are "optional common" parameters; like platyPS we document them
# (so they show in SYNTAX) and fall back to the standard text when a page omits them.
$defaultDescriptions = @{
    WhatIf  = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    Confirm = 'Prompts you for confirmation before running the cmdlet.'
}
$fenceRegex = '^\s*(?<fence>```+|~~~+)\s*(?<lang>[\w+-]*)'

#region Markdown parsing

# Splits a page into front matter, H1 title and H2 sections (keyed by upper-case name);
# each section has its own lines and H3 subsections. Headings inside code fences are text.
function Read-MarkdownPage([string] $Path) {
    $text = [IO.File]::ReadAllText($Path) -replace "`r`n?", "`n"
    $front = @{}
    if ($text -match '^\s*---\n(?<fm>[\s\S]*?)\n---[ \t]*(\n|$)') {
        foreach ($l in $Matches.fm -split "`n") {
            if ($l -match '^\s*([^:]+?)\s*:\s*(.*?)\s*$') { $front[$Matches[1]] = $Matches[2] }
        }
        $text = $text.Substring($Matches[0].Length)
    }
    $page = [pscustomobject]@{ Title = $null; Front = $front; Sections = [ordered]@{} }
    $section = $null; $sub = $null; $fence = $null
    foreach ($line in $text -split "`n") {
        $isHeading = $false
        if ($fence) {
            if ($line.Trim().StartsWith($fence)) { $fence = $null }
        } elseif ($line -match $fenceRegex) {
            $fence = $Matches.fence
        } elseif ($line -match '^(?<h>#{1,3})\s+(?<t>.*?)\s*#*\s*$') {
            $isHeading = $true
            $title = $Matches.t
            switch ($Matches.h.Length) {
                1 { $page.Title = $title; $section = $null; $sub = $null }
                2 {
                    $section = [pscustomobject]@{ Lines = [Collections.Generic.List[string]]::new(); Subs = [Collections.Generic.List[object]]::new() }
                    $page.Sections[$title.ToUpperInvariant()] = $section; $sub = $null
                }
                3 {
                    if ($section) {
                        $sub = [pscustomobject]@{ Title = $title; Lines = [Collections.Generic.List[string]]::new() }
                        $section.Subs.Add($sub)
                    }
                }
            }
        }
        if (-not $isHeading) {
            if ($sub) { $sub.Lines.Add($line) } elseif ($section) { $section.Lines.Add($line) }
        }
    }
    $page
}

# Removes fenced blocks whose language matches $LangPattern; returns them and the remaining lines.
function Split-Fences([string[]] $Lines, [string] $LangPattern = '.*') {
    $blocks = [Collections.Generic.List[object]]::new(); $rest = [Collections.Generic.List[string]]::new()
    $current = $null; $fence = $null; $keep = $false
    foreach ($line in $Lines) {
        if ($fence) {
            if ($line.Trim().StartsWith($fence)) {
                if ($keep) { $rest.Add($line) } else { $blocks.Add([pscustomobject]@{ Lang = $current.Lang; Text = ($current.Lines -join "`n").TrimEnd() }) }
                $fence = $null
            } elseif ($keep) { $rest.Add($line) } else { $current.Lines.Add($line) }
        } elseif ($line -match $fenceRegex) {
            $fence = $Matches.fence; $lang = $Matches.lang
            $keep = $lang -notmatch "^(?:$LangPattern)$"
            $current = [pscustomobject]@{ Lang = $lang; Lines = [Collections.Generic.List[string]]::new() }
            if ($keep) { $rest.Add($line) }
        } else { $rest.Add($line) }
    }
    [pscustomobject]@{ Blocks = $blocks.ToArray(); Rest = $rest.ToArray() }
}

# Strips inline markup that reads badly in a console; backticks are kept on purpose.
function Format-Inline([string] $Text) {
    $Text = $Text -replace '\*\*(.+?)\*\*', '$1' -replace '(?<!\w)__(.+?)__(?!\w)', '$1'
    $Text = $Text -replace '\[([^\]]+)\]\((https?://[^)\s]+)\)', '$1 ($2)'
    $Text -replace '\[([^\]]+)\]\([^)]*\)', '$1'
}

# Markdown lines -> paragraphs (one maml:para each). Soft-wrapped lines are joined;
# lists keep one item per line; code blocks become an indented paragraph.
function ConvertTo-Paragraphs([string[]] $Lines) {
    $paras = [Collections.Generic.List[string]]::new(); $buf = [Collections.Generic.List[string]]::new()
    $isList = $false; $fence = $null; $code = $null
    $flush = {
        if ($buf.Count) {
            $sep = if ($isList) { "`n" } else { ' ' }
            $paras.Add((Format-Inline (($buf | ForEach-Object { if ($isList) { $_.TrimEnd() } else { $_.Trim() } }) -join $sep)))
            $buf.Clear()
        }
        $isList = $false   # dot-sourced below, so this is the function's variable
    }
    foreach ($line in $Lines) {
        if ($fence) {
            if ($line.Trim().StartsWith($fence)) { $paras.Add(($code | ForEach-Object { "    $_" }) -join "`n"); $fence = $null }
            else { $code.Add($line) }
            continue
        }
        if ($line -match $fenceRegex) { . $flush; $fence = $Matches.fence; $code = [Collections.Generic.List[string]]::new(); continue }
        if ($line -match '^\s*$') { . $flush; continue }
        if ($line -match '^\s*([-*+]|\d+[.)])\s+') { $isList = $true }
        $buf.Add($line)
    }
    . $flush
    , $paras.ToArray()
}

function Get-SectionParagraphs($Page, [string] $Name) {
    if (-not $Page.Sections.Contains($Name)) { return , @() }
    $s = $Page.Sections[$Name]
    $lines = @($s.Lines) + @($s.Subs | ForEach-Object { $_.Title; $_.Lines })
    ConvertTo-Paragraphs $lines
}

#endregion

#region Cmdlet metadata

function Get-TypeDisplayName([type] $Type) {
    if ($Type.IsArray) { return (Get-TypeDisplayName $Type.GetElementType()) + '[]' }
    $inner = [Nullable]::GetUnderlyingType($Type)
    if ($inner) { return Get-TypeDisplayName $inner }
    if ($Type.IsGenericType) {
        $args_ = $Type.GetGenericArguments() | ForEach-Object { Get-TypeDisplayName $_ }
        return ($Type.Name -replace '`\d+$') + '[' + ($args_ -join ', ') + ']'
    }
    $Type.Name
}

# One parameter as MAML needs it. $Sets holds the per-set metadata to merge
# (one entry for a syntax item, every set the parameter is in for PARAMETERS).
function New-ParameterModel($Name, [type] $Type, $Aliases, $Attributes, $Sets, $Doc) {
    $positions = @($Sets | Where-Object Position -ge 0 | ForEach-Object Position | Sort-Object -Unique)
    $how = @(if ($Sets | Where-Object ValueFromPipelineByPropertyName) { 'ByPropertyName' }
             if ($Sets | Where-Object ValueFromPipeline) { 'ByValue' })
    $plain = if ([Nullable]::GetUnderlyingType($Type)) { [Nullable]::GetUnderlyingType($Type) } else { $Type }
    $element = if ($plain.IsArray) { $plain.GetElementType() } else { $plain }
    # Accepted values: [ValidateSet] or the names of an enum type.
    $values = @($Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | ForEach-Object ValidValues)
    if (-not $values -and $element.IsEnum) { $values = [Enum]::GetNames($element) }
    $isSwitch = $Type -eq [System.Management.Automation.SwitchParameter]
    $default = if ($Doc -and $Doc.Default) { $Doc.Default } elseif ($isSwitch) { 'False' } else { 'None' }
    [pscustomobject]@{
        Name        = $Name
        Required    = (@($Sets | Where-Object { -not $_.IsMandatory }).Count -eq 0)
        Position    = if ($positions.Count) { [string]$positions[0] } else { 'named' }
        Pipeline    = if ($how) { "True ($($how -join ', '))" } else { 'False' }
        Aliases     = if ($Aliases -and $Aliases.Count) { $Aliases -join ', ' } else { 'none' }
        Globbing    = [bool]($Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] }) -or ($Doc -and $Doc.Wildcards)
        TypeName    = Get-TypeDisplayName $Type
        FullName    = if ($plain.FullName -and -not $plain.IsGenericType) { $plain.FullName } else { Get-TypeDisplayName $Type }
        IsSwitch    = $isSwitch
        Values      = $values
        Default     = $default
        Description = if ($Doc) { $Doc.Description } else { @($defaultDescriptions[$Name]) }
    }
}

#endregion

#region MAML writing

function Write-Paras($W, [string[]] $Paras) {
    foreach ($p in $Paras) { $W.WriteElementString('maml', 'para', $ns.maml, $p) }
}

function Write-Parameter($W, $P, [bool] $InSyntax) {
    $W.WriteStartElement('command', 'parameter', $ns.command)
    $W.WriteAttributeString('required', $P.Required.ToString().ToLowerInvariant())
    $W.WriteAttributeString('variableLength', 'true')
    $W.WriteAttributeString('globbing', $P.Globbing.ToString().ToLowerInvariant())
    $W.WriteAttributeString('pipelineInput', $P.Pipeline)
    $W.WriteAttributeString('position', $P.Position)
    $W.WriteAttributeString('aliases', $P.Aliases)
    $W.WriteElementString('maml', 'name', $ns.maml, $P.Name)
    $W.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $W $P.Description; $W.WriteEndElement()
    if ($P.Values) {
        # Get-Help renders these as -Kind {A | B | C} in syntax and lists them in PARAMETERS.
        $W.WriteStartElement('command', 'parameterValueGroup', $ns.command)
        foreach ($v in $P.Values) {
            $W.WriteStartElement('command', 'parameterValue', $ns.command)
            $W.WriteAttributeString('required', 'false'); $W.WriteAttributeString('variableLength', 'false')
            $W.WriteString($v); $W.WriteEndElement()
        }
        $W.WriteEndElement()
    }
    # A switch gets no value element in syntax, so it renders as [-Force] not [-Force <SwitchParameter>].
    if (-not ($InSyntax -and $P.IsSwitch)) {
        $W.WriteStartElement('command', 'parameterValue', $ns.command)
        $W.WriteAttributeString('required', (-not $P.IsSwitch).ToString().ToLowerInvariant())
        $W.WriteAttributeString('variableLength', 'false')
        $W.WriteString($P.TypeName); $W.WriteEndElement()
    }
    $W.WriteStartElement('dev', 'type', $ns.dev)
    $W.WriteElementString('maml', 'name', $ns.maml, $P.FullName)
    $W.WriteElementString('maml', 'uri', $ns.maml, '')
    $W.WriteEndElement()
    $W.WriteElementString('dev', 'defaultValue', $ns.dev, $P.Default)
    $W.WriteEndElement()
}

# INPUTS / OUTPUTS: each H3 is a type name followed by its description.
function Write-TypeList($W, $Page, [string] $Section, [string] $ListName, [string] $ItemName, [string[]] $Fallback) {
    $W.WriteStartElement('command', $ListName, $ns.command)
    $items = if ($Page.Sections.Contains($Section) -and $Page.Sections[$Section].Subs.Count) {
        $Page.Sections[$Section].Subs | ForEach-Object { [pscustomobject]@{ Name = $_.Title; Paras = ConvertTo-Paragraphs $_.Lines } }
    } else { $Fallback | ForEach-Object { [pscustomobject]@{ Name = $_; Paras = @() } } }
    foreach ($item in $items) {
        $W.WriteStartElement('command', $ItemName, $ns.command)
        $W.WriteStartElement('dev', 'type', $ns.dev); $W.WriteElementString('maml', 'name', $ns.maml, $item.Name); $W.WriteEndElement()
        $W.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $W $item.Paras; $W.WriteEndElement()
        $W.WriteEndElement()
    }
    $W.WriteEndElement()
}

#endregion

#region Main

# Resolved first: Import-Module takes a bare relative path ('out/Unicorn') for a module name.
$module = Import-Module -Name (Resolve-Path -LiteralPath $ModulePath).ProviderPath -Force -PassThru -DisableNameChecking | Select-Object -First 1
$DocsPath = (Resolve-Path -LiteralPath $DocsPath).ProviderPath
$cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
if (-not $cmdlets) { throw "Module '$($module.Name)' ($ModulePath) exports no cmdlets." }

# Parse and validate everything first, so one run reports every problem.
$problems = [Collections.Generic.List[string]]::new()
$docs = @{}
foreach ($cmd in $cmdlets) {
    $file = Join-Path $DocsPath "$($cmd.Name).md"
    if (-not (Test-Path -LiteralPath $file)) { $problems.Add("$($cmd.Name): no help page ($file)"); continue }
    $page = Read-MarkdownPage $file
    $missing = [Collections.Generic.List[string]]::new()
    if ($page.Title -and $page.Title -ne $cmd.Name) { Write-Warning "${file}: title '$($page.Title)' is not '$($cmd.Name)'" }
    $synopsis = Get-SectionParagraphs $page 'SYNOPSIS'
    $description = Get-SectionParagraphs $page 'DESCRIPTION'
    if (-not ($synopsis -join '').Trim()) { $missing.Add('SYNOPSIS') }
    if (-not ($description -join '').Trim()) { $missing.Add('DESCRIPTION') }

    $examples = @(if ($page.Sections.Contains('EXAMPLES')) {
        foreach ($sub in $page.Sections['EXAMPLES'].Subs) {
            $split = Split-Fences $sub.Lines
            [pscustomobject]@{ Title = $sub.Title; Code = (@($split.Blocks | ForEach-Object Text) -join "`n`n"); Remarks = ConvertTo-Paragraphs $split.Rest }
        }
    })
    if ($examples.Count -lt 2) { $missing.Add("at least 2 examples (found $($examples.Count))") }
    foreach ($e in $examples | Where-Object { -not $_.Code.Trim() }) { $missing.Add("code in example '$($e.Title)'") }

    $paramDocs = @{}
    if ($page.Sections.Contains('PARAMETERS')) {
        foreach ($sub in $page.Sections['PARAMETERS'].Subs | Where-Object Title -like '-*') {
            $split = Split-Fences $sub.Lines 'ya?ml'
            $yaml = @($split.Blocks | ForEach-Object Text) -join "`n"
            $paramDocs[$sub.Title.TrimStart('-').Trim()] = [pscustomobject]@{
                Description = ConvertTo-Paragraphs $split.Rest
                Default     = if ($yaml -match '(?m)^Default value:[ \t]*(\S.*?)\s*$') { $Matches[1] } else { $null }
                Wildcards   = $yaml -match '(?m)^Accept wildcard characters:\s*True'
            }
        }
    }
    $paramNames = @($cmd.Parameters.Keys | Where-Object { -not $commonParameters.Contains($_) })
    $undocumented = @($paramNames | Where-Object {
        -not $defaultDescriptions.ContainsKey($_) -and -not ($paramDocs.ContainsKey($_) -and ($paramDocs[$_].Description -join '').Trim())
    })
    if ($undocumented) { $missing.Add('description of parameter(s) ' + (($undocumented | ForEach-Object { "-$_" }) -join ', ')) }
    foreach ($extra in $paramDocs.Keys | Where-Object { $_ -notin $paramNames }) { Write-Warning "${file}: documents -$extra, which $($cmd.Name) does not have" }

    if ($missing.Count) { $problems.Add("$($cmd.Name): missing $($missing -join '; ') in $file") }
    $docs[$cmd.Name] = [pscustomobject]@{ Page = $page; Synopsis = $synopsis; Description = $description; Examples = $examples; Params = $paramDocs }
}
if ($problems.Count) {
    # One line per cmdlet on stderr: the error view of the throw below reflows newlines.
    foreach ($p in $problems) { [Console]::Error.WriteLine("New-MamlHelp: $p") }
    throw "Help is incomplete for $($problems.Count) cmdlet(s) of module '$($module.Name)':`n  " + ($problems -join "`n  ")
}

# .NET file APIs resolve relative paths against the process directory, not $PWD.
$culture = Join-Path $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputPath) 'en-US'
$null = New-Item -ItemType Directory -Force -Path $culture
$settings = [Xml.XmlWriterSettings]@{ Indent = $true; IndentChars = '  '; Encoding = [Text.UTF8Encoding]::new($false) }

# CmdletInfo.HelpFile is the file name Get-Help looks for: '<assembly file>-Help.xml'.
foreach ($group in $cmdlets | Group-Object HelpFile) {
    $outFile = Join-Path $culture $group.Name
    $w = [Xml.XmlWriter]::Create($outFile, $settings)
    try {
        $w.WriteStartDocument()
        $w.WriteStartElement('helpItems', $ns.msh)
        $w.WriteAttributeString('schema', 'maml')
        foreach ($cmd in $group.Group) {
            $doc = $docs[$cmd.Name]
            $w.WriteStartElement('command', 'command', $ns.command)
            foreach ($prefix in 'maml', 'command', 'dev', 'MSHelp') { $w.WriteAttributeString('xmlns', $prefix, $null, $ns[$prefix]) }

            $w.WriteStartElement('command', 'details', $ns.command)
            $w.WriteElementString('command', 'name', $ns.command, $cmd.Name)
            $w.WriteElementString('command', 'verb', $ns.command, $cmd.Verb)
            $w.WriteElementString('command', 'noun', $ns.command, $cmd.Noun)
            $w.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $w $doc.Synopsis; $w.WriteEndElement()
            $w.WriteEndElement()
            $w.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $w $doc.Description; $w.WriteEndElement()

            # One syntax item per parameter set, default set first; positional parameters
            # first (by position), then mandatory named ones, then the rest as declared.
            $w.WriteStartElement('command', 'syntax', $ns.command)
            foreach ($set in $cmd.ParameterSets | Sort-Object { -not $_.IsDefault }) {
                $w.WriteStartElement('command', 'syntaxItem', $ns.command)
                $w.WriteElementString('maml', 'name', $ns.maml, $cmd.Name)
                $ordered = $set.Parameters | Where-Object { -not $commonParameters.Contains($_.Name) } |
                    Sort-Object -Stable { if ($_.Position -ge 0) { 0 } elseif ($_.IsMandatory) { 1 } else { 2 } }, { [Math]::Max($_.Position, 0) }
                foreach ($p in $ordered) {
                    Write-Parameter $w (New-ParameterModel $p.Name $p.ParameterType $p.Aliases $p.Attributes @($p) $doc.Params[$p.Name]) $true
                }
                $w.WriteEndElement()
            }
            $w.WriteEndElement()

            $w.WriteStartElement('command', 'parameters', $ns.command)
            foreach ($meta in $cmd.Parameters.Values | Where-Object { -not $commonParameters.Contains($_.Name) }) {
                Write-Parameter $w (New-ParameterModel $meta.Name $meta.ParameterType $meta.Aliases $meta.Attributes @($meta.ParameterSets.Values) $doc.Params[$meta.Name]) $false
            }
            $w.WriteEndElement()

            Write-TypeList $w $doc.Page 'INPUTS' 'inputTypes' 'inputType' @('None')
            Write-TypeList $w $doc.Page 'OUTPUTS' 'returnValues' 'returnValue' @($cmd.OutputType | ForEach-Object Name)

            # No empty alert when the page has no NOTES (Get-Help prints the heading either way).
            $notes = Get-SectionParagraphs $doc.Page 'NOTES'
            $w.WriteStartElement('maml', 'alertSet', $ns.maml)
            if ($notes.Count) { $w.WriteStartElement('maml', 'alert', $ns.maml); Write-Paras $w $notes; $w.WriteEndElement() }
            $w.WriteEndElement()

            $w.WriteStartElement('command', 'examples', $ns.command)
            foreach ($e in $doc.Examples) {
                $w.WriteStartElement('command', 'example', $ns.command)
                # Same dashed banner as PowerShell's own help (and platyPS).
                $w.WriteElementString('maml', 'title', $ns.maml, "--------- $($e.Title) ---------")
                $w.WriteElementString('dev', 'code', $ns.dev, $e.Code)
                # The trailing empty para puts a blank line before the next example's banner.
                $w.WriteStartElement('dev', 'remarks', $ns.dev); Write-Paras $w (@($e.Remarks) + @('')); $w.WriteEndElement()
                $w.WriteEndElement()
            }
            $w.WriteEndElement()

            # Get-Help -Online opens the first link with a URI; platyPS puts 'online version' there.
            $links = @()
            if ($doc.Page.Front['online version']) { $links += , @('Online Version:', $doc.Page.Front['online version']) }
            if ($doc.Page.Sections.Contains('RELATED LINKS')) {
                foreach ($l in $doc.Page.Sections['RELATED LINKS'].Lines | Where-Object { $_.Trim() }) {
                    if ($l -match '\[([^\]]+)\]\(([^)]*)\)') {
                        $text, $uri = $Matches[1], $Matches[2]
                        $links += , @($text, $(if ($uri -match '^https?://') { $uri } else { '' }))
                    } else { $links += , @((Format-Inline $l.Trim().TrimStart('-', '*', ' ')), '') }
                }
            }
            $w.WriteStartElement('command', 'relatedLinks', $ns.command)
            foreach ($link in $links) {
                $w.WriteStartElement('maml', 'navigationLink', $ns.maml)
                $w.WriteElementString('maml', 'linkText', $ns.maml, $link[0])
                $w.WriteElementString('maml', 'uri', $ns.maml, $link[1])
                $w.WriteEndElement()
            }
            $w.WriteEndElement()

            $w.WriteEndElement() # command:command
        }
        $w.WriteEndElement()
        $w.WriteEndDocument()
    } finally { $w.Dispose() }
    Write-Host "Wrote $outFile ($($group.Count) cmdlets)"
}

# about_*.md -> about_*.help.txt: headings lose their '#', body text is indented
# under them (PowerShell's classic about-topic layout), code keeps its own indentation.
foreach ($md in Get-ChildItem -LiteralPath $DocsPath -Filter 'about_*.md') {
    $out = [Collections.Generic.List[string]]::new(); $inCode = $false
    foreach ($line in ([IO.File]::ReadAllText($md.FullName) -replace "`r`n?", "`n" -replace '^\s*---\n[\s\S]*?\n---[ \t]*\n', '') -split "`n") {
        if ($line -match $fenceRegex) { $inCode = -not $inCode; continue }
        if ($inCode) { $out.Add("        $line"); continue }
        if ($line -match '^(#{1,6})\s+(.*?)\s*#*\s*$') {
            $heading = Format-Inline $Matches[2]
            if ($Matches[1].Length -eq 2) { $heading = $heading.ToUpperInvariant() }
            if ($out.Count -and $out[$out.Count - 1]) { $out.Add('') }
            $out.Add($(if ($Matches[1].Length -le 2) { $heading } else { "  $heading" }))
            continue
        }
        $out.Add($(if ($line.Trim()) { '    ' + (Format-Inline $line.TrimEnd()) } else { '' }))
    }
    $target = Join-Path $culture ($md.BaseName + '.help.txt')
    [IO.File]::WriteAllText($target, (($out -join "`n").Trim("`n") + "`n"), [Text.UTF8Encoding]::new($false))
    Write-Host "Wrote $target"
}

#endregion
