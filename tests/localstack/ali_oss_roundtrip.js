// put / get / head / list / delete through the real ali-oss (Node SDK) against an OSS endpoint, as users write it.
// Usage: node ali_oss_roundtrip.js '{"endpoint": ..., "region": ..., "bucket": ..., "accessKeyId": ..., "accessKeySecret": ...}'
// Prints one JSON object with what each call returned; exits 1 with the error on the first failure.
const OSS = require("ali-oss");

async function main() {
  const options = JSON.parse(process.argv[2]);
  const client = new OSS({ ...options, timeout: 20000 });
  const key = "ali-oss/中文 key+%.txt";
  const body = Buffer.from("from ali-oss");
  const put = await client.put(key, body, { headers: { "x-oss-meta-from": "node" } });
  const get = await client.get(key);
  const head = await client.head(key);
  const list = await client.list({ prefix: "ali-oss/", "max-keys": 10 });
  const listV2 = await client.listV2({ prefix: "ali-oss/" });
  await client.delete(key);
  let afterDelete = null;
  try {
    await client.head(key);
  } catch (err) {
    afterDelete = { status: err.status, code: err.code };
  }
  console.log(JSON.stringify({
    putStatus: put.res.status,
    putEtag: put.res.headers.etag,
    getBody: get.content.toString(),
    headStatus: head.status,
    headMeta: head.meta,
    listed: (list.objects || []).map((o) => o.name),
    listedV2: (listV2.objects || []).map((o) => o.name),
    afterDelete,
  }));
}

main().catch((err) => {
  console.error(JSON.stringify({ name: err.name, status: err.status, code: err.code, message: err.message }));
  process.exit(1);
});
