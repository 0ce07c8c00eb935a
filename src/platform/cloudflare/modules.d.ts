/** Data modules (wrangler.toml `[[rules]] type = "Data"`): the bytes of the file, bundled with the Worker. */
declare module "*.mmdb" {
  const bytes: ArrayBuffer;
  export default bytes;
}
