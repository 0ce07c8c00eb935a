/** The report page's stylesheet, inline in the page: it is published standalone, fetching nothing. */
export const REPORT_CSS = `
body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.45}
main{max-width:52rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}
dl.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.75rem}
dl.summary div{border:1px solid #ccc;border-radius:4px;padding:.5rem .75rem}
dl.summary dd{margin:0;font-size:1.4rem;font-weight:600}
dl.definitions dt{font-weight:600;margin-top:.5rem}dl.definitions dd{margin-left:0}
table{border-collapse:collapse;margin:1rem 0;width:100%}
@media (max-width:40rem){main{padding:.75rem}table{font-size:.8rem}th,td{padding:.2rem .25rem}th{overflow-wrap:anywhere;hyphens:auto}}
p.sha code{overflow-wrap:anywhere;word-break:break-all;font-size:.85rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600}
tr.sub th{padding-left:1.5rem;font-weight:400}tr.total th,tr.total td{font-weight:600;border-top:1px solid #888}
figure{margin:1rem 0}
svg{max-width:100%;height:auto}svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#1a1a1a}
p.provisional{border:2px solid #E69F00;background:#fff8e6;padding:.5rem .75rem;font-weight:600}
footer{margin-top:2.5rem;border-top:1px solid #ccc;font-size:.9rem}
`;
