// The scripts `kvlog completion bash|zsh|fish` prints: thin, as cobra generates them for kubectl.
// On every TAB the shell runs `PROGRAM __complete WORD...` (the words after the program name, the
// one being completed last) and offers what it answers (engine.ts); the scripts know no command,
// flag or value of kvlog's, so they never need printing again when kvlog changes. What each does
// itself is only what its shell needs: bash puts back the words it split at = and :, and the
// answer's directive (cobra's ShellCompDirective) says: 1 offer nothing, 2 no space after the
// value, 4 no file names when there is no candidate (without it: file names).

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const header = (shell: Shell, install: string) => `# ${shell} completion for kvlog, printed by \`kvlog completion ${shell}\`. ${install}
# On each TAB it asks \`kvlog __complete WORD...\` what to offer: one candidate a line (a TAB before
# its description), then ":<directive>" (1 nothing, 2 no space after, 4 no file names).
`;

function bashScript(program: string): string {
  return `${header("bash", "Install: source <(kvlog completion bash), e.g. in ~/.bashrc.")}
_${program}() {
  local cur c out last prog brk=
  local -a words=()
  local -i i j=-1 glue=0 directive
  # bash splits a word at the characters of COMP_WORDBREAKS: put --context=arn:aws:... back
  # together as it was typed.
  for (( i = 0; i <= COMP_CWORD; i++ )); do
    c=\${COMP_WORDS[i]}
    if (( j >= 0 )) && [[ -n $c && -z \${c//[=:]/} ]]; then
      words[j]+=$c glue=1
    elif (( glue )) && [[ -n $c ]]; then
      words[j]+=$c glue=0
    else
      words[++j]=$c
    fi
  done
  cur=\${words[j]} prog=\${words[0]}
  [[ $prog == "~/"* ]] && prog=$HOME/\${prog#"~/"}
  COMPREPLY=()
  out=$("$prog" __complete "\${words[@]:1}" 2>/dev/null </dev/null) || return 0
  last=\${out##*$'\\n'}
  [[ $last =~ ^:([0-9]+)$ ]] || return 0
  directive=\${BASH_REMATCH[1]}
  (( directive & 1 )) && return 0
  (( directive & 2 )) && compopt -o nospace 2>/dev/null
  if [[ $out == *$'\\n'* ]]; then
    while IFS= read -r c; do COMPREPLY+=("\${c%%$'\\t'*}"); done <<<"\${out%$'\\n'*}"
  elif (( !(directive & 4) )); then
    compopt -o filenames 2>/dev/null
    c=; [[ $cur == --*=* ]] && c=\${cur%%=*}=
    while IFS= read -r out; do COMPREPLY+=("$c$out"); done < <(compgen -f -- "\${cur#"$c"}")
  fi
  # bash replaces only what follows the last word-break character: drop what precedes it.
  [[ \${COMP_WORDBREAKS-} == *=* ]] && brk+='='
  [[ \${COMP_WORDBREAKS-} == *:* ]] && brk+=':'
  if [[ -n $brk && $cur == *[$brk]* ]]; then
    c=\${cur%"\${cur##*[$brk]}"}
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]=\${COMPREPLY[i]#"$c"}; done
  fi
  return 0
}

complete -F _${program} ${program} kubectl-${program}
`;
}

function zshScript(program: string): string {
  return `#compdef ${program} kubectl-${program}
${header("zsh", "Install: source <(kvlog completion zsh) in ~/.zshrc after compinit, or save it as _kvlog in a directory of $fpath.")}
_${program}() {
  local prog=\${words[1]/#\\~/$HOME} out line d
  local -a lines vals descs
  local -i directive
  out=$("$prog" __complete "\${(@)words[2,CURRENT-1]}" "$IPREFIX$PREFIX" 2>/dev/null </dev/null) || return 1
  lines=("\${(@f)out}")
  [[ $lines[-1] == :<-> ]] || return 1
  directive=\${lines[-1]#:}
  (( directive & 1 )) && return 1
  for line in "\${(@)lines[1,-2]}"; do
    [[ -n $line ]] || continue
    vals+=("\${\${line%%$'\\t'*}#"$IPREFIX"}")
    d=\${line#*$'\\t'}
    [[ $d == "$line" ]] && d=
    descs+=("\${vals[-1]}\${d:+  -- $d}")
  done
  if (( $#vals )); then
    if (( directive & 2 )); then compadd -S '' -l -d descs -a vals; else compadd -l -d descs -a vals; fi
  elif (( !(directive & 4) )); then
    _files
  fi
}

if [[ \${funcstack[1]-} == _${program} ]]; then
  # autoloaded from $fpath by compinit
  _${program} "$@"
elif (( $+functions[compdef] )); then
  compdef _${program} ${program} kubectl-${program}
else
  print -u2 "kvlog: completion not installed: run 'autoload -U compinit && compinit' before sourcing it"
fi
`;
}

function fishScript(program: string): string {
  return `${header("fish", "Install: kvlog completion fish > ~/.config/fish/completions/kvlog.fish")}
# Asks kvlog, keeps the candidates in $__${program}_results, and fails when the shell should
# complete file names instead (no candidate, no "no file names" directive).
function __${program}_prepare
    set -g __${program}_results
    set -l words (commandline -opc)
    set -l prog $words[1]
    set -e words[1]
    set -l out (command $prog __complete $words (commandline -ct) 2>/dev/null </dev/null)
    string match -qr -- '^:[0-9]+$' "$out[-1]"; or return 0
    set -l directive (string sub -s 2 -- $out[-1])
    set -e out[-1]
    test (math "bitand($directive, 1)") -eq 0; or return 0
    set -g __${program}_results $out
    test (count $out) -gt 0; or test (math "bitand($directive, 4)") -ne 0
end

complete -c ${program} -e
complete -c ${program} -n __${program}_prepare -f -a '$__${program}_results'
complete -c kubectl-${program} -w ${program}
`;
}

export function script(shell: Shell, program: string): string {
  return shell === "bash" ? bashScript(program) : shell === "zsh" ? zshScript(program) : fishScript(program);
}
