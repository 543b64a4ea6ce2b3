"""The data dictionary: every field a street office's file may bring, per kind of record.

The one source of truth for the importers (which headers are recognised, which values
are allowed, what is required), for ``wangge template`` (the headers, the notes row and
the data validation of the workbook) and for the documentation (:func:`markdown`, the
table in the README, checked by a test to be exactly this).

Headers are recognised in Chinese (the template's header and the usual variants), in
pinyin (in full and as initials, as Chinese GIS exports write them: ``HBH`` 户编号) and in
English; see :mod:`etl.imports.headers` for how they are compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How a value is written; shown in the template's notes row and the documentation.
FieldType = Literal["text", "code", "integer", "number", "date", "choice", "yes/no", "tags"]

TYPE_ZH: dict[str, str] = {
    "text": "文本",
    "code": "编码(文本)",
    "integer": "整数",
    "number": "数字",
    "date": "日期",
    "choice": "选项",
    "yes/no": "是/否",
    "tags": "标签(可多个)",
}


@dataclass(frozen=True)
class Choice:
    """An allowed value: what is stored, its Chinese name, and other spellings accepted."""

    value: str
    zh: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    """One importable field.

    Attributes
    ----------
    name
        Our name of the field (the column of the layer, or an input to one).
    zh
        The Chinese header the template writes.
    aliases
        Other headers recognised: Chinese variants, pinyin, English.
    type
        How the value is written (see :data:`TYPE_ZH`).
    required
        Whether every row must have it (after what other fields give: a birth year from
        the ID number, a household's room from its address).
    example
        A value as an office would write it.
    choices
        The allowed values (type ``choice`` and ``tags``).
    note
        What else to know, in a few words.
    stored
        False for fields that are recognised (so they are not reported as unknown) but
        not kept: a household's 户主 is the resident whose 与户主关系 is 户主.
    template
        Whether ``wangge template`` writes a column for it (not for what only the
        OpenStreetMap import fills, nor for what is not stored).
    """

    name: str
    zh: str
    aliases: tuple[str, ...]
    type: FieldType
    required: bool
    example: str
    choices: tuple[Choice, ...] = ()
    note: str = ""
    stored: bool = True
    template: bool = True

    def __post_init__(self) -> None:
        if not self.stored or self.name == "source_tag":
            object.__setattr__(self, "template", False)


@dataclass(frozen=True)
class Kind:
    """A kind of record a file brings: its fields, its key, and whether it has a geometry."""

    name: str
    zh: str
    fields: tuple[Field, ...]
    #: the field that matches a record of the file to a stored one (the office's own id)
    key: str
    #: "polygon" (the file is spatial), "point" (from lon/lat columns or a point layer) or None
    geometry: Literal["polygon", "point"] | None

    def field(self, name: str) -> Field:
        """The field named ``name``."""
        return next(f for f in self.fields if f.name == name)


def _lonlat() -> tuple[Field, Field]:
    return (
        Field(
            "lon",
            "经度",
            ("lng", "lon", "longitude", "x", "jd", "jingdu", "东经"),
            "number",
            True,
            "118.7839",
            note="degrees; AMap/Tencent: --coord-type gcj02, Baidu: bd09",
        ),
        Field(
            "lat",
            "纬度",
            ("lat", "latitude", "y", "wd", "weidu", "北纬"),
            "number",
            True,
            "32.0442",
            note="degrees",
        ),
    )


USES = (
    Choice("residential", "住宅", ("居住", "住宅楼", "民居")),
    Choice("mixed", "商住", ("商住楼", "综合", "混合")),
    Choice("public", "公共", ("公建", "公共建筑", "办公", "学校", "医院")),
    Choice("commercial", "商业", ("商铺", "商业楼", "写字楼")),
)
LEVELS = (
    Choice("province", "省", ("省份", "自治区", "直辖市", "省级", "province")),
    Choice("city", "市", ("地级市", "自治州", "地区", "盟", "市级", "city", "prefecture")),
    Choice("district", "区", ("区县", "县", "县级市", "市辖区", "旗", "district", "county")),
    Choice(
        "street",
        "街道",
        ("镇", "乡", "乡镇", "街道办", "街道办事处", "street", "township", "town"),
    ),
    Choice("community", "社区", ("居委会", "村", "村委会", "社区居委会", "community", "village")),
    Choice("estate", "小区", ("院落", "estate")),
)
GRID_KINDS = (
    Choice("base", "基础网格", ("基础", "综合网格", "一般网格")),
    Choice("dedicated", "专属网格", ("专属", "专业网格")),
)
SEXES = (Choice("M", "男", ("male", "m", "1")), Choice("F", "女", ("female", "f", "2")))
FACILITY_KINDS = (
    Choice(
        "clinic",
        "医疗卫生",
        ("卫生服务站", "社区卫生服务中心", "卫生院", "诊所", "医院", "门诊", "医疗"),
    ),
    Choice("elder_care", "养老服务", ("养老院", "日间照料中心", "养老", "敬老院", "老年食堂")),
    Choice("park", "公园", ("公园绿地", "广场", "绿地", "游园")),
    Choice("school", "学校", ("幼儿园", "小学", "中学", "学校教育")),
    Choice("community_centre", "社区服务中心", ("党群服务中心", "活动中心", "社区中心", "文化站")),
    Choice("shelter", "避难场所", ("应急避难场所", "避难所")),
    Choice("pharmacy", "药店", ("药房", "大药房", "零售药店", "pharmacy")),
)
SHELTER_CLASSES = (
    Choice("emergency", "紧急避难场所", ("紧急", "应急", "应急避难场所", "临时")),
    Choice("fixed", "固定避难场所", ("固定", "短期固定", "长期固定")),
    Choice("central", "中心避难场所", ("中心",)),
)
#: Groups of residents a 标签 column may name (several per cell, separated by 、,;/ or spaces).
TAGS = (
    Choice("living_alone_elderly", "独居老人", ("空巢老人", "孤寡老人", "独居")),
    Choice("disabled", "残疾", ("残疾人", "残障")),
    Choice("mobility_impaired", "行动不便", ("失能", "半失能", "卧床")),
    Choice("low_income", "低保", ("低保户", "特困", "低收入", "低边")),
)

AREAS = Kind(
    "areas",
    "行政区划",
    (
        Field(
            "code",
            "区划代码",
            ("编码", "代码", "adcode", "行政区划代码", "区划编码", "code", "qhdm", "xzqdm", "bm"),
            "code",
            True,
            "320102002",
            note="from the file name (320102.geojson) when the file has none",
        ),
        Field("name", "名称", ("区划名称", "name", "mc", "qhmc"), "text", False, "新街口街道"),
        Field(
            "level",
            "级别",
            ("层级", "类型", "level", "jb"),
            "choice",
            False,
            "街道",
            LEVELS,
            note="from the code when absent: 2 省, 4 市, 6 区 (or 省 / 市 when it ends in "
            "0000 / 00), 9 街道, 12 社区",
        ),
        Field(
            "parent_code",
            "上级代码",
            ("上级编码", "上级区划代码", "parent", "parent_adcode", "parent_code", "sjdm"),
            "code",
            False,
            "320102",
            note="from the code when absent (the longest stored code it starts with)",
        ),
    ),
    key="code",
    geometry="polygon",
)

GRIDS = Kind(
    "grids",
    "网格",
    (
        Field(
            "code",
            "网格编码",
            ("网格代码", "编码", "grid_code", "code", "wgbm", "wgdm"),
            "code",
            False,
            "320102002001001",
            note="15 digits: community code + 3; numbered west to east when absent",
        ),
        Field("name", "网格名称", ("名称", "grid_name", "name", "wgmc"), "text", False, "第1网格"),
        Field(
            "community_code",
            "社区编码",
            ("所属社区编码", "社区代码", "community_code", "comm_code", "sqbm"),
            "code",
            False,
            "320102002001",
            note="the community holding most of the grid when absent",
        ),
        Field(
            "kind",
            "网格类型",
            ("类型", "kind", "grid_kind", "wglx"),
            "choice",
            False,
            "基础网格",
            GRID_KINDS,
        ),
    ),
    key="code",
    geometry="polygon",
)

BUILDINGS = Kind(
    "buildings",
    "楼栋",
    (
        Field(
            "ref",
            "楼栋编号",
            ("建筑编号", "楼栋号", "编号", "building_id", "bldg_id", "id", "ref", "ldbh", "jzbh"),
            "code",
            True,
            "XJK-0032",
            note="the office's own id; a re-import updates the building with it",
        ),
        Field("name", "楼栋名称", ("名称", "楼名", "name", "ldmc"), "text", False, "3幢"),
        Field(
            "address",
            "地址",
            ("楼栋地址", "门牌地址", "标准地址", "address", "addr", "dz", "dizhi"),
            "text",
            False,
            "中山路88号3幢",
            note="households are placed by it (路/街 + 号 + 栋/幢)",
        ),
        Field(
            "floors",
            "层数",
            ("楼层数", "地上层数", "总层数", "floors", "levels", "cs", "building_levels"),
            "integer",
            False,
            "6",
            note="1 when absent",
        ),
        Field("use", "用途", ("建筑用途", "性质", "use", "yt"), "choice", False, "住宅", USES),
        Field("units", "单元数", ("units", "dys"), "integer", False, "2", note="1 when absent"),
        Field(
            "estate_code",
            "小区编码",
            ("所属小区编码", "estate_code", "xqbm"),
            "code",
            False,
            "320102002001E01",
        ),
    ),
    key="ref",
    geometry="polygon",
)

HOUSEHOLDS = Kind(
    "households",
    "户",
    (
        Field(
            "ref",
            "户编号",
            ("户号", "户籍编号", "家庭编号", "household_id", "hbh", "hh", "hubianhao"),
            "code",
            True,
            "H000123",
            note="the office's own id; residents name their household by it",
        ),
        Field(
            "building_ref",
            "楼栋编号",
            ("所在楼栋编号", "建筑编号", "building_ref", "building_id", "ldbh"),
            "code",
            False,
            "XJK-0032",
            note="the household's building; or give its address",
        ),
        Field(
            "address",
            "地址",
            ("住址", "家庭住址", "居住地址", "现住址", "门牌地址", "address", "addr", "dz", "zz"),
            "text",
            False,
            "中山路88号3幢2单元301室",
            note="placed by the building of this address when 楼栋编号 is absent",
        ),
        Field(
            "building",
            "楼栋",
            ("楼号", "幢号", "栋号", "楼幢", "building", "ld"),
            "text",
            False,
            "3幢",
            note="added to 地址 when the address stops before the building",
        ),
        Field(
            "unit",
            "单元",
            ("单元号", "unit", "dy"),
            "integer",
            False,
            "2",
            note="from the address when absent, else 1",
        ),
        Field(
            "room",
            "室",
            ("房号", "房间号", "门牌", "门牌号", "室号", "room", "fh", "mph"),
            "text",
            True,
            "301",
            note="from the address (…301室) when absent",
        ),
        Field(
            "size",
            "人数",
            ("户内人数", "家庭人口", "人口数", "size", "rs", "renshu"),
            "integer",
            True,
            "3",
        ),
        Field(
            "head",
            "户主",
            ("户主姓名", "head", "hz", "huzhu", "hzxm"),
            "text",
            False,
            "张三",
            note="not stored: the resident whose 与户主关系 is 户主",
            stored=False,
        ),
        Field(
            "household_phone",
            "联系电话",
            ("电话", "phone", "lxdh"),
            "text",
            False,
            "13812345678",
            note="not stored: residents' phones are",
            stored=False,
        ),
    ),
    key="ref",
    geometry=None,
)

RESIDENTS = Kind(
    "residents",
    "居民",
    (
        Field(
            "ref",
            "人员编号",
            ("个人编号", "居民编号", "person_id", "resident_id", "rybh"),
            "code",
            False,
            "P0001234",
            note="the office's own id; else 身份证号 identifies the person",
        ),
        Field(
            "household_ref",
            "户编号",
            ("户号", "所属户编号", "household_id", "household_ref", "hbh", "hh"),
            "code",
            True,
            "H000123",
        ),
        Field("name", "姓名", ("name", "xm", "xingming"), "text", True, "张三"),
        Field(
            "sex",
            "性别",
            ("sex", "gender", "xb", "xingbie"),
            "choice",
            False,
            "男",
            SEXES,
            note="from 身份证号 when absent",
        ),
        Field(
            "birth_date",
            "出生日期",
            ("出生年月", "出生年月日", "生日", "birth_date", "birthday", "dob", "csrq"),
            "date",
            False,
            "1950-03-08",
            note="or 出生年份; from 身份证号 when absent",
        ),
        Field("birth_year", "出生年份", ("birth_year", "csnf"), "integer", False, "1950"),
        Field(
            "id_number",
            "身份证号",
            (
                "公民身份号码",
                "身份证号码",
                "证件号码",
                "身份证",
                "id_number",
                "id_card",
                "sfzh",
                "sfzhm",
            ),
            "code",
            False,
            "320102195003081234",
            note="18 characters, as text (Excel loses digits of a number)",
        ),
        Field(
            "phone",
            "联系电话",
            ("手机号", "手机号码", "电话", "联系方式", "phone", "mobile", "tel", "lxdh", "sjh"),
            "text",
            False,
            "13812345678",
        ),
        Field(
            "relation",
            "与户主关系",
            ("关系", "户主关系", "relation", "yhzgx"),
            "text",
            False,
            "户主",
        ),
        Field(
            "tags",
            "标签",
            ("人员类别", "人员标签", "特殊人群", "重点人群", "类别", "tags", "bq", "rylb"),
            "tags",
            False,
            "独居老人、低保",
            TAGS,
            note="several, separated by 、 , ; / or spaces",
        ),
        Field("living_alone_elderly", "独居老人", ("是否独居老人", "独居"), "yes/no", False, "是"),
        Field("disabled", "残疾", ("是否残疾", "残疾人"), "yes/no", False, "否"),
        Field("mobility_impaired", "行动不便", ("是否行动不便",), "yes/no", False, "否"),
        Field("low_income", "低保", ("是否低保", "低保户"), "yes/no", False, "否"),
    ),
    key="ref",
    geometry=None,
)

FACILITIES = Kind(
    "facilities",
    "设施",
    (
        Field(
            "ref",
            "编号",
            ("设施编号", "id", "ref", "bh"),
            "code",
            False,
            "F-012",
            note="the office's own id; else 类型 + 名称 identify the facility",
        ),
        Field(
            "name",
            "名称",
            ("设施名称", "name", "mc", "mingcheng"),
            "text",
            True,
            "新街口社区卫生服务中心",
        ),
        Field(
            "kind",
            "类型",
            ("设施类型", "类别", "kind", "type", "lx", "leixing"),
            "choice",
            True,
            "医疗卫生",
            FACILITY_KINDS,
        ),
        Field("address", "地址", ("address", "addr", "dz"), "text", False, "中山路100号"),
        *_lonlat(),
        Field(
            "capacity",
            "容量",
            ("床位数", "座位数", "可容纳人数", "规模", "capacity", "rl"),
            "integer",
            False,
            "120",
        ),
        Field(
            "opening_hours",
            "开放时间",
            ("营业时间", "办公时间", "opening_hours", "kfsj"),
            "text",
            False,
            "08:00-17:30",
            note="as residents read it on the nearby-services page (周边服务)",
        ),
        Field(
            "phone",
            "电话",
            ("联系电话", "咨询电话", "phone", "tel", "dh"),
            "text",
            False,
            "020-12345678",
        ),
        Field(
            "source_tag",
            "来源标签",
            ("source_tag", "osm_tag"),
            "text",
            False,
            "amenity=hospital",
            note="the OpenStreetMap tag that decided the kind",
        ),
    ),
    key="ref",
    geometry="point",
)

SHELTERS = Kind(
    "shelters",
    "避难场所",
    (
        Field(
            "ref", "编号", ("场所编号", "id", "ref", "bh"), "code", False, "S-01", note="else 名称"
        ),
        Field(
            "name",
            "名称",
            ("场所名称", "避难场所名称", "name", "mc"),
            "text",
            True,
            "五台山体育中心",
        ),
        Field(
            "shelter_class",
            "类型",
            ("场所类型", "级别", "类别", "class", "type", "lx"),
            "choice",
            False,
            "固定避难场所",
            SHELTER_CLASSES,
            note="紧急避难场所 when absent",
        ),
        Field("address", "地址", ("address", "addr", "dz"), "text", False, "广州路1号"),
        *_lonlat(),
        Field(
            "capacity",
            "容量",
            ("可容纳人数", "容纳人数", "容量(人)", "capacity", "rl"),
            "integer",
            True,
            "5000",
            note="people",
        ),
        Field(
            "area_m2",
            "面积",
            ("有效面积", "避难面积", "占地面积", "area", "area_m2", "mj"),
            "number",
            False,
            "12000",
            note="square metres",
        ),
        Field("is_open", "是否开放", ("开放", "is_open", "sfkf"), "yes/no", False, "是"),
        Field(
            "source_tag",
            "来源标签",
            ("source_tag", "osm_tag"),
            "text",
            False,
            "leisure=park (12,894 m²)",
            note="the OpenStreetMap tag that made it a candidate",
        ),
    ),
    key="ref",
    geometry="point",
)

KINDS: dict[str, Kind] = {
    k.name: k for k in (AREAS, GRIDS, BUILDINGS, HOUSEHOLDS, RESIDENTS, FACILITIES, SHELTERS)
}

#: Headers every kind passes over without a word (a row counter, remarks).
IGNORED_HEADERS = (
    "序号",
    "备注",
    "说明",
    "no",
    "seq",
    "remark",
    "remarks",
    "原行号",
    "原因",
)


def choice_names(field: Field) -> list[str]:
    """The Chinese names of a field's choices, as the template offers them."""
    return [c.zh for c in field.choices]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The data dictionary as Markdown tables, one per kind (the README's copy is this)."""
    lines: list[str] = []
    for kind in KINDS.values():
        geometry = {
            "polygon": "polygons (GeoJSON, GeoPackage, Shapefile)",
            "point": "经度/纬度 columns, or points",
            None: "none: placed through the building",
        }[kind.geometry]
        lines += [
            f"**{kind.name}** ({kind.zh}) — key `{kind.key}`; geometry: {geometry}",
            "",
            "| field | header | also recognised | type | required | example | values / note |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in kind.fields:
            values = "、".join(
                f"{c.zh} ({c.value}{'; also ' + ', '.join(c.also) if c.also else ''})"
                for c in f.choices
            )
            note = "; ".join(x for x in (values, f.note) if x)
            lines.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        f"`{f.name}`",
                        f.zh,
                        ", ".join(f.aliases),
                        f.type,
                        "yes" if f.required else "",
                        f.example,
                        note,
                    )
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # python -m etl.imports.dictionary > the README's tables
    print(markdown(), end="")
