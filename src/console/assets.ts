/**
 * The console's one stylesheet, served from `/console/assets/console.css` so the pages need no inline
 * style (the CSP allows styles from 'self' only, and no scripts at all). Colours meet WCAG AA contrast;
 * below 40rem tables become stacked cards, so nothing scrolls sideways on a phone.
 */
export const CONSOLE_CSS = `
*,*::before,*::after{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:100%;line-height:1.5;color:#1a1a1a;background:#fff}
body{margin:0}
a{color:#0b4f9c}
a:hover{color:#062f5e}
:focus-visible{outline:3px solid #b35900;outline-offset:2px}
.skip{position:absolute;left:-999rem;top:0;background:#fff;padding:.5rem 1rem;z-index:2}
.skip:focus{left:.5rem}
header.top{background:#13294b;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center}
header.top a,header.top .who{color:#fff}
header.top .brand{font-weight:700;text-decoration:none;margin-right:auto}
header.top nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
header.top nav a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
header.top form{margin:0}
header.top button{background:transparent;color:#fff;border:1px solid #fff;padding:.25rem .75rem}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
label,legend{font-weight:600;display:block;margin-bottom:.25rem}
fieldset{border:1px solid #767676;padding:.75rem;margin:0 0 1rem}
fieldset label{font-weight:400;display:flex;gap:.5rem;align-items:flex-start}
.choice .hint{margin:0 0 .5rem 1.75rem}
dl.fields dd ul{margin:.25rem 0 0;padding-left:1.25rem}
.field{margin-bottom:1rem}
.hint{color:#4a4a4a;font-size:.9rem;margin:0 0 .25rem}
.error-text{color:#b00020;font-weight:600;margin:0 0 .25rem}
input[type=text],input[type=password],input[type=date],input[type=search],select,textarea{font:inherit;width:100%;max-width:32rem;padding:.5rem;border:1px solid #595959;border-radius:3px;background:#fff;color:#1a1a1a}
textarea{min-height:5rem}
[aria-invalid=true]{border:2px solid #b00020}
button{font:inherit;padding:.5rem 1rem;border-radius:3px;border:1px solid #13294b;background:#13294b;color:#fff;cursor:pointer;min-height:44px}
button.secondary{background:#fff;color:#13294b}
button.danger{background:#9b1c1c;border-color:#9b1c1c}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
.regions{max-height:20rem;overflow-y:auto}
.regions .depth-1{padding-left:1.5rem}
.regions .depth-2{padding-left:3rem}
.summary{border:3px solid #b00020;padding:.75rem 1rem;margin-bottom:1rem}
.summary h2{margin-top:0;font-size:1.1rem}
.flash{border-left:6px solid #1e6b35;background:#eef7f0;padding:.75rem 1rem;margin-bottom:1rem}
.alert{border-left:6px solid #b00020;background:#fdf0f1;padding:.75rem 1rem;margin-bottom:1rem}
.preview{border:2px solid #13294b;background:#f2f5fa;padding:.75rem 1rem;margin:1rem 0}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;border:1px solid #595959;font-size:.9rem}
.status-pending{background:#fff3cd;color:#5c3c00;border-color:#8a5a00}
.status-approved{background:#e3f4e8;color:#14532d;border-color:#1e6b35}
.status-rejected{background:#fde8e8;color:#8a1c1c;border-color:#9b1c1c}
.status-withdrawn{background:#ececec;color:#333;border-color:#595959}
.pager{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;margin:.5rem 0 1rem}
.pager ul{list-style:none;margin:0;padding:0;display:flex;gap:1rem}
.pager a{display:inline-block;min-height:44px;padding:.6rem 0}
.impact{font-weight:700}
.queue{list-style:none;margin:0;padding:0}
.queue>li{border:1px solid #c4c4c4;border-left:6px solid #8a5a00;padding:.5rem 1rem;margin-bottom:1rem}
.queue h2{font-size:1.1rem;margin:.25rem 0}
.deny{color:#9b1c1c;font-weight:700}
.allow{color:#1e6b35;font-weight:700}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #c4c4c4;vertical-align:top}
caption{text-align:left;font-weight:600;padding:.25rem 0}
dl.fields{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.25rem 1rem}
dl.fields dt{font-weight:600}
dl.fields dd{margin:0;overflow-wrap:anywhere}
.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:0 1rem;align-items:end}
.lang{color:#fff}
.decide{border-top:1px solid #c4c4c4;margin-top:1rem}
@media (max-width:40rem){
  main{padding:.75rem}
  dl.fields{grid-template-columns:1fr}
  dl.fields dd{margin-bottom:.5rem}
  table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
  table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
  table.cards tr{border:1px solid #c4c4c4;margin-bottom:.75rem;padding:.25rem}
  table.cards td{border:0;overflow-wrap:anywhere}
  table.cards td::before{content:attr(data-label) ": ";font-weight:600}
}
`;

/**
 * The amendment and auditor pages' additions (issue 15): the framed report, lists of links on one line,
 * a command to copy, long hashes that wrap, and the period states' colours (each also said in words).
 */
export const AUDIT_CSS = `
.report-frame{display:block;width:100%;height:70rem;border:1px solid #767676;margin:1rem 0}
ul.inline{list-style:none;margin:.25rem 0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
pre.command{background:#f2f5fa;border:1px solid #767676;padding:.75rem;white-space:pre-wrap;overflow-wrap:anywhere}
dl.fields code,td code{overflow-wrap:anywhere;word-break:break-all}
label.check{font-weight:400;display:flex;gap:.5rem;align-items:flex-start}
table th[scope=row]{font-weight:600}
.state-open{border-color:#0b4f9c;color:#0b4f9c}
.state-provisional{border-color:#8a4b00;color:#8a4b00}
.state-finalized{border-color:#1e6b35;color:#1e6b35}
@media (max-width:40rem){
  table.cards th[scope=row]{display:block;width:100%;border:0}
  .report-frame{height:50rem}
}
`;
