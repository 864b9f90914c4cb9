/**
 * Regenerates the shipped data (deterministic; run `node dist/scripts/make-sample.js`):
 *   data/entities/entities.tsv  surface<TAB>canonical_id<TAB>type, English and Chinese surfaces
 *   data/sample/sample.jsonl    2,000 documents, 60% English, 40% Chinese
 * Canonical ids are this project's own (`loc:beijing`), not any external knowledge base's.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

type Row = [id: string, type: 'PER' | 'LOC' | 'ORG', en: string[], zh: string[]]

const entities: Row[] = [
  ['loc:beijing', 'LOC', ['Beijing', 'Peking'], ['北京']],
  ['loc:shanghai', 'LOC', ['Shanghai'], ['上海']],
  ['loc:guangzhou', 'LOC', ['Guangzhou', 'Canton'], ['广州']],
  ['loc:shenzhen', 'LOC', ['Shenzhen'], ['深圳']],
  ['loc:hangzhou', 'LOC', ['Hangzhou'], ['杭州']],
  ['loc:chengdu', 'LOC', ['Chengdu'], ['成都']],
  ['loc:wuhan', 'LOC', ['Wuhan'], ['武汉']],
  ['loc:nanjing', 'LOC', ['Nanjing'], ['南京']],
  ['loc:xian', 'LOC', ["Xi'an"], ['西安']],
  ['loc:hong-kong', 'LOC', ['Hong Kong'], ['香港']],
  ['loc:taipei', 'LOC', ['Taipei'], ['台北']],
  ['loc:tokyo', 'LOC', ['Tokyo'], ['东京']],
  ['loc:seoul', 'LOC', ['Seoul'], ['首尔']],
  ['loc:singapore', 'LOC', ['Singapore'], ['新加坡']],
  ['loc:london', 'LOC', ['London'], ['伦敦']],
  ['loc:paris', 'LOC', ['Paris'], ['巴黎']],
  ['loc:berlin', 'LOC', ['Berlin'], ['柏林']],
  ['loc:madrid', 'LOC', ['Madrid'], ['马德里']],
  ['loc:rome', 'LOC', ['Rome'], ['罗马']],
  ['loc:new-york', 'LOC', ['New York', 'New York City'], ['纽约']],
  ['loc:san-francisco', 'LOC', ['San Francisco'], ['旧金山']],
  ['loc:seattle', 'LOC', ['Seattle'], ['西雅图']],
  ['loc:boston', 'LOC', ['Boston'], ['波士顿']],
  ['loc:chicago', 'LOC', ['Chicago'], ['芝加哥']],
  ['loc:toronto', 'LOC', ['Toronto'], ['多伦多']],
  ['loc:sydney', 'LOC', ['Sydney'], ['悉尼']],
  ['loc:moscow', 'LOC', ['Moscow'], ['莫斯科']],
  ['loc:dubai', 'LOC', ['Dubai'], ['迪拜']],
  ['loc:mumbai', 'LOC', ['Mumbai', 'Bombay'], ['孟买']],
  ['loc:china', 'LOC', ['China'], ['中国']],
  ['loc:japan', 'LOC', ['Japan'], ['日本']],
  ['loc:germany', 'LOC', ['Germany'], ['德国']],
  ['loc:france', 'LOC', ['France'], ['法国']],
  ['loc:united-kingdom', 'LOC', ['United Kingdom', 'Britain'], ['英国']],
  ['loc:united-states', 'LOC', ['United States', 'USA'], ['美国']],
  ['loc:canada', 'LOC', ['Canada'], ['加拿大']],
  ['loc:india', 'LOC', ['India'], ['印度']],
  ['loc:brazil', 'LOC', ['Brazil'], ['巴西']],
  ['loc:australia', 'LOC', ['Australia'], ['澳大利亚']],
  ['loc:yangtze', 'LOC', ['Yangtze River'], ['长江']],
  ['org:huawei', 'ORG', ['Huawei'], ['华为']],
  ['org:alibaba', 'ORG', ['Alibaba', 'Alibaba Group'], ['阿里巴巴']],
  ['org:tencent', 'ORG', ['Tencent'], ['腾讯']],
  ['org:baidu', 'ORG', ['Baidu'], ['百度']],
  ['org:bytedance', 'ORG', ['ByteDance'], ['字节跳动']],
  ['org:xiaomi', 'ORG', ['Xiaomi'], ['小米公司']],
  ['org:byd', 'ORG', ['BYD'], ['比亚迪']],
  ['org:lenovo', 'ORG', ['Lenovo'], ['联想集团']],
  ['org:jd', 'ORG', ['JD.com'], ['京东']],
  ['org:tsinghua', 'ORG', ['Tsinghua University'], ['清华大学']],
  ['org:peking-university', 'ORG', ['Peking University'], ['北京大学']],
  ['org:fudan', 'ORG', ['Fudan University'], ['复旦大学']],
  ['org:zhejiang-university', 'ORG', ['Zhejiang University'], ['浙江大学']],
  ['org:cas', 'ORG', ['Chinese Academy of Sciences'], ['中国科学院']],
  ['org:apple', 'ORG', ['Apple', 'Apple Inc.'], ['苹果公司']],
  ['org:microsoft', 'ORG', ['Microsoft'], ['微软']],
  ['org:google', 'ORG', ['Google'], ['谷歌']],
  ['org:amazon', 'ORG', ['Amazon'], ['亚马逊']],
  ['org:meta', 'ORG', ['Meta Platforms'], ['Meta公司']],
  ['org:nvidia', 'ORG', ['Nvidia', 'NVIDIA'], ['英伟达']],
  ['org:intel', 'ORG', ['Intel'], ['英特尔']],
  ['org:tesla', 'ORG', ['Tesla'], ['特斯拉']],
  ['org:samsung', 'ORG', ['Samsung'], ['三星']],
  ['org:sony', 'ORG', ['Sony'], ['索尼']],
  ['org:toyota', 'ORG', ['Toyota'], ['丰田']],
  ['org:siemens', 'ORG', ['Siemens'], ['西门子']],
  ['org:volkswagen', 'ORG', ['Volkswagen'], ['大众汽车']],
  ['org:un', 'ORG', ['United Nations'], ['联合国']],
  ['org:who', 'ORG', ['World Health Organization'], ['世界卫生组织']],
  ['org:imf', 'ORG', ['International Monetary Fund', 'IMF'], ['国际货币基金组织']],
  ['org:world-bank', 'ORG', ['World Bank'], ['世界银行']],
  ['org:mit', 'ORG', ['MIT', 'Massachusetts Institute of Technology'], ['麻省理工学院']],
  ['org:stanford', 'ORG', ['Stanford University'], ['斯坦福大学']],
  ['org:harvard', 'ORG', ['Harvard University'], ['哈佛大学']],
  ['org:oxford', 'ORG', ['University of Oxford'], ['牛津大学']],
  ['per:lu-xun', 'PER', ['Lu Xun'], ['鲁迅']],
  ['per:confucius', 'PER', ['Confucius'], ['孔子']],
  ['per:li-bai', 'PER', ['Li Bai'], ['李白']],
  ['per:du-fu', 'PER', ['Du Fu'], ['杜甫']],
  ['per:yao-ming', 'PER', ['Yao Ming'], ['姚明']],
  ['per:jack-ma', 'PER', ['Jack Ma'], ['马云']],
  ['per:ren-zhengfei', 'PER', ['Ren Zhengfei'], ['任正非']],
  ['per:lei-jun', 'PER', ['Lei Jun'], ['雷军']],
  ['per:pony-ma', 'PER', ['Pony Ma'], ['马化腾']],
  ['per:robin-li', 'PER', ['Robin Li'], ['李彦宏']],
  ['per:tu-youyou', 'PER', ['Tu Youyou'], ['屠呦呦']],
  ['per:mo-yan', 'PER', ['Mo Yan'], ['莫言']],
  ['per:albert-einstein', 'PER', ['Albert Einstein', 'Einstein'], ['爱因斯坦']],
  ['per:marie-curie', 'PER', ['Marie Curie'], ['居里夫人']],
  ['per:isaac-newton', 'PER', ['Isaac Newton'], ['牛顿']],
  ['per:ada-lovelace', 'PER', ['Ada Lovelace'], ['阿达·洛芙莱斯']],
  ['per:alan-turing', 'PER', ['Alan Turing'], ['图灵']],
  ['per:william-shakespeare', 'PER', ['William Shakespeare', 'Shakespeare'], ['莎士比亚']],
  ['per:leonardo-da-vinci', 'PER', ['Leonardo da Vinci'], ['达·芬奇']],
  ['per:tim-cook', 'PER', ['Tim Cook'], ['蒂姆·库克']],
  ['per:satya-nadella', 'PER', ['Satya Nadella'], ['萨提亚·纳德拉']],
  ['per:jensen-huang', 'PER', ['Jensen Huang'], ['黄仁勋']],
  ['per:elon-musk', 'PER', ['Elon Musk'], ['埃隆·马斯克']],
  ['per:bill-gates', 'PER', ['Bill Gates'], ['比尔·盖茨']],
]

// Names that are not in the dictionary: the rule-based pass may find them, mapping leaves them unmapped.
const otherPeopleEn = [
  'Maria Lopez',
  'James Carter',
  'Priya Raman',
  'Oliver Schmidt',
  'Hannah Kim',
  'David Okafor',
]
const otherPeopleZh = ['王小明', '张伟', '李娜', '刘洋', '陈静', '赵磊']
const otherPlacesEn = ['Lyon', 'Osaka', 'Denver', 'Porto', 'Krakow', 'Nairobi']
const otherPlacesZh = ['苏州', '青岛', '厦门', '昆明', '大连', '长沙']

// mulberry32: a small seeded PRNG, so the sample is the same on every machine.
function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rand = rng(20261122)
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
const ofType = (type: Row[1]) => entities.filter((e) => e[1] === type)

const enTemplates = [
  (p: string, o: string, l: string) =>
    `${p} visited the ${o} office in ${l} on Monday to discuss a new research partnership.`,
  (p: string, o: string, l: string) =>
    `According to a statement from ${o}, ${p} will lead the expansion into ${l} next year. Analysts expect hiring to grow.`,
  (p: string, o: string, l: string) =>
    `In ${l}, ${p} told reporters that ${o} had no plans to change its strategy despite slower demand.`,
  (p: string, o: string, l: string) =>
    `The conference in ${l} opened with a keynote by ${p}, followed by a panel with engineers from ${o}.`,
  (p: string, o: string, l: string) =>
    `${o} announced that ${p} joined its board. The company, which has offices in ${l}, did not comment further.`,
]
const zhTemplates = [
  (p: string, o: string, l: string) => `${p}周一在${l}访问了${o}，双方讨论了新的研究合作。`,
  (p: string, o: string, l: string) =>
    `据${o}发布的消息，${p}明年将负责在${l}的业务扩张，分析人士预计招聘人数将增加。`,
  (p: string, o: string, l: string) => `${p}在${l}对记者表示，尽管需求放缓，${o}并无改变战略的计划。`,
  (p: string, o: string, l: string) => `在${l}举行的会议上，${p}发表了主旨演讲，随后${o}的工程师参加了讨论。`,
  (p: string, o: string, l: string) => `${o}宣布${p}加入其董事会。该公司在${l}设有办事处，未作进一步评论。`,
]

function surface(row: Row, lang: 'en' | 'zh'): string {
  return pick(lang === 'en' ? row[2] : row[3])
}

function makeDoc(i: number): { doc_id: string; text: string; lang: string } {
  const lang = i % 5 < 3 ? 'en' : 'zh'
  const known = rand() < 0.7
  const person = known
    ? surface(pick(ofType('PER')), lang)
    : pick(lang === 'en' ? otherPeopleEn : otherPeopleZh)
  const org = surface(pick(ofType('ORG')), lang)
  const place =
    rand() < 0.8 ? surface(pick(ofType('LOC')), lang) : pick(lang === 'en' ? otherPlacesEn : otherPlacesZh)
  const sentences = 1 + Math.floor(rand() * 3)
  const parts: string[] = []
  for (let s = 0; s < sentences; s++) {
    const t = pick(lang === 'en' ? enTemplates : zhTemplates)
    parts.push(
      s === 0
        ? t(person, org, place)
        : t(
            surface(pick(ofType('PER')), lang),
            surface(pick(ofType('ORG')), lang),
            surface(pick(ofType('LOC')), lang),
          ),
    )
  }
  return {
    doc_id: `sample-${String(i + 1).padStart(5, '0')}`,
    text: parts.join(lang === 'en' ? ' ' : ''),
    lang,
  }
}

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
const count = Number(process.argv[2] ?? 2000)
mkdirSync(path.join(root, 'data', 'entities'), { recursive: true })
mkdirSync(path.join(root, 'data', 'sample'), { recursive: true })
const tsv = ['# surface\tcanonical_id\ttype (generated by scripts/make-sample.ts)']
for (const [id, type, en, zh] of entities) for (const s of [...en, ...zh]) tsv.push(`${s}\t${id}\t${type}`)
writeFileSync(path.join(root, 'data', 'entities', 'entities.tsv'), `${tsv.join('\n')}\n`)
const lines: string[] = []
for (let i = 0; i < count; i++) lines.push(JSON.stringify(makeDoc(i)))
writeFileSync(path.join(root, 'data', 'sample', 'sample.jsonl'), `${lines.join('\n')}\n`)
console.log(`wrote ${tsv.length - 1} entity surfaces and ${count} documents`)
